#!/usr/bin/env node
// Generates the Tunekit demo dataset: extract generic ingredient names from a recipe's ingredient
// lines as a JSON array (the task of OpenAI's cookbook fine-tuning tutorial, which uses RecipeNLG;
// we cannot download RecipeNLG, so this script writes realistic recipes of the same shape).
//
//   node examples/recipes/generate.mjs [OUT_DIR]      (OUT_DIR defaults to this folder)
//
// Plain Node, no dependencies, seeded PRNG with the fixed seed 42: the same Node version writes
// byte-identical train.jsonl / validation.jsonl / test.jsonl every time.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SEED = 42;
const MAX_CHARACTERS = 440;
export const COUNTS = { train: 320, validation: 80, test: 80 };
export const SYSTEM_PROMPT = "You extract generic ingredient names from recipe ingredient lines. Answer with a JSON array of lowercase generic names in the order they appear.";

// mulberry32: a tiny, well-known 32-bit seeded PRNG (same sequence on every platform)
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Vocabulary, one ingredient a line:  generic | surface variants | quantity kind | preparation notes | brands | pools
// pools: d = desserts and baking, s = savory mains and soups, l = salads and sides
const VOCABULARY = `
flour|all-purpose flour;flour;plain flour;unbleached flour|dry|sifted|Gold Medal;Pillsbury|ds
whole wheat flour|whole wheat flour|dry|||d
self-rising flour|self-rising flour|dry|sifted|White Lily|d
sugar|sugar;granulated sugar;white sugar|dry|||dl
brown sugar|brown sugar;light brown sugar;dark brown sugar;firmly packed brown sugar|dry|packed||ds
powdered sugar|powdered sugar;confectioners' sugar;10x sugar|dry|sifted|Domino|d
baking soda|baking soda;soda|spice||Arm & Hammer|d
baking powder|baking powder|spice||Clabber Girl;Calumet|d
cornstarch|cornstarch;corn starch|spoon||Argo|ds
salt|salt;table salt;kosher salt|spice|||dsl
cocoa|cocoa;unsweetened cocoa;cocoa powder|dry||Hershey's|d
oats|quick-cooking oats;rolled oats;old-fashioned oats;oatmeal|dry|uncooked|Quaker|d
cornmeal|cornmeal;yellow cornmeal|dry||Aunt Jemima|ds
yeast|active dry yeast;dry yeast|packet||Fleischmann's|d
graham cracker crumbs|graham cracker crumbs|dry|||d
bread crumbs|bread crumbs;dry bread crumbs;Italian seasoned bread crumbs;fine dry bread crumbs|dry||Progresso|s
rice|rice;long-grain rice;uncooked rice;white rice|dry|uncooked;rinsed|Uncle Ben's;Minute|sl
cracker crumbs|cracker crumbs;saltine cracker crumbs|dry|crushed||s
black pepper|black pepper;ground black pepper;freshly ground black pepper|spice|||sl
pepper|pepper|spice|||sl
cinnamon|cinnamon;ground cinnamon|spice|||d
nutmeg|nutmeg;ground nutmeg|spice|||d
paprika|paprika;smoked paprika|spice|||sl
cumin|cumin;ground cumin|spice|||s
chili powder|chili powder|spice|||s
oregano|oregano;dried oregano;oregano leaves|spice|crushed||s
basil|basil;dried basil;dried basil leaves|spice|||sl
thyme|thyme;dried thyme;thyme leaves|spice|||s
garlic powder|garlic powder|spice|||sl
onion powder|onion powder|spice|||s
cayenne pepper|cayenne pepper;cayenne;ground red pepper|spice|||s
ginger|ground ginger;ginger|spice|||ds
cloves|ground cloves;cloves|spice|||d
allspice|allspice;ground allspice|spice|||d
bay leaves|bay leaves;bay leaf;dried bay leaves|leaves|||s
parsley flakes|parsley flakes;dried parsley flakes|spice|||sl
vanilla|vanilla;vanilla extract;pure vanilla extract|spice||McCormick|d
almond extract|almond extract|spice|||d
italian seasoning|Italian seasoning|spice|||sl
seasoned salt|seasoned salt|spice||Lawry's|sl
curry powder|curry powder|spice|||s
dry mustard|dry mustard;mustard powder|spice|||sl
red pepper flakes|red pepper flakes;crushed red pepper flakes|spice|||s
celery seed|celery seed|spice|||l
rosemary|rosemary;dried rosemary|spice|crushed||s
sage|sage;rubbed sage;ground sage|spice|||s
dill weed|dill weed;dried dill weed|spice|||l
poppy seed|poppy seed;poppy seeds|spice|||dl
cream of tartar|cream of tartar|spice|||d
milk|milk;whole milk;skim milk;2% milk|liquid|scalded;warm||ds
buttermilk|buttermilk|liquid|||d
water|water;cold water;boiling water;warm water|liquid|||dsl
heavy cream|heavy cream;whipping cream;heavy whipping cream|liquid|whipped||ds
sour cream|sour cream;dairy sour cream|liquid||Daisy;Breakstone's|dsl
half-and-half|half-and-half;half and half|liquid|||ds
evaporated milk|evaporated milk;evaporated skim milk|can:5,12|undiluted|Pet;Carnation|d
sweetened condensed milk|sweetened condensed milk|can:14|not evaporated|Eagle Brand|d
vegetable oil|vegetable oil;salad oil;oil|liquid||Wesson;Crisco|dsl
olive oil|olive oil;extra-virgin olive oil;extra virgin olive oil|liquid||Bertolli|sl
vinegar|vinegar;white vinegar|liquid|||l
cider vinegar|cider vinegar;apple cider vinegar|liquid||Heinz|l
red wine vinegar|red wine vinegar|liquid|||l
soy sauce|soy sauce;low-sodium soy sauce|spoon||Kikkoman;La Choy|s
worcestershire sauce|Worcestershire sauce;Worcestershire|spoon||Lea & Perrins|s
lemon juice|lemon juice;fresh lemon juice|spoon||ReaLemon|dsl
lime juice|lime juice;fresh lime juice|spoon|||sl
orange juice|orange juice|liquid|||dl
chicken broth|chicken broth;chicken stock;low-sodium chicken broth|liquid||Swanson;College Inn|s
beef broth|beef broth;beef stock|liquid||Swanson|s
honey|honey|spoon|||dl
maple syrup|maple syrup;pure maple syrup|spoon|||d
molasses|molasses;light molasses|spoon||Grandma's|d
ketchup|ketchup;catsup|liquid||Heinz;Hunt's|sl
mayonnaise|mayonnaise;mayo;light mayonnaise|liquid||Hellmann's;Duke's|l
salad dressing|salad dressing|liquid||Miracle Whip|l
mustard|mustard;prepared mustard;yellow mustard|spoon||French's|sl
dijon mustard|Dijon mustard|spoon||Grey Poupon|sl
hot sauce|hot sauce;hot pepper sauce|dash||Tabasco;Frank's RedHot|s
white wine|white wine;dry white wine|liquid|||s
barbecue sauce|barbecue sauce;BBQ sauce|liquid||KC Masterpiece;Sweet Baby Ray's|s
salsa|salsa;chunky salsa;picante sauce|jar:16|drained|Pace;Old El Paso|s
tomato sauce|tomato sauce|can:8,15|||s
tomato paste|tomato paste|can:6|||s
corn syrup|corn syrup;light corn syrup|liquid||Karo|d
diced tomatoes|diced tomatoes;petite diced tomatoes;diced tomatoes with green chiles|can:14.5,28|undrained;drained|Hunt's;Del Monte;Ro-Tel|s
stewed tomatoes|stewed tomatoes|can:14.5|cut up|Del Monte|s
crushed tomatoes|crushed tomatoes|can:28|||s
cream of mushroom soup|cream of mushroom soup;condensed cream of mushroom soup|can:10.75|undiluted|Campbell's|s
cream of chicken soup|cream of chicken soup;condensed cream of chicken soup|can:10.75|undiluted|Campbell's|s
tomato soup|tomato soup;condensed tomato soup|can:10.75||Campbell's|s
cheddar cheese soup|Cheddar cheese soup|can:10.75||Campbell's|s
kidney beans|kidney beans;red kidney beans;dark red kidney beans|can:15,16|drained;rinsed and drained|Bush's|sl
black beans|black beans|can:15|rinsed and drained|Bush's|sl
pinto beans|pinto beans|can:15|drained|Ranch Style|s
green beans|green beans;cut green beans;French-style green beans|can:14.5,16|drained|Del Monte;Green Giant|sl
corn|corn;whole kernel corn;golden corn|can:15.25,11|drained|Green Giant;Del Monte|sl
cream-style corn|cream-style corn|can:14.75||Del Monte|s
crushed pineapple|crushed pineapple;crushed pineapple in juice|can:8,20|drained;well drained|Dole|dl
mandarin oranges|mandarin oranges|can:11|drained|Dole|dl
pumpkin|pumpkin;solid-pack pumpkin;pumpkin puree|can:15,29||Libby's|d
garbanzo beans|garbanzo beans;chickpeas|can:15|rinsed and drained|Goya|sl
tuna|tuna;chunk light tuna;tuna in water|can:5,6|drained;flaked|StarKist;Bumble Bee|sl
green chiles|chopped green chiles;diced green chiles;green chiles|can:4|drained|Old El Paso|s
cherry pie filling|cherry pie filling|can:21||Comstock|d
black olives|sliced black olives;pitted ripe olives;black olives|can:2.25,6|drained|Lindsay|sl
water chestnuts|water chestnuts;sliced water chestnuts|can:8|drained|La Choy|sl
cream cheese|cream cheese;light cream cheese|pkg:8,3|softened;at room temperature|Philadelphia|dl
frozen spinach|frozen chopped spinach;frozen spinach|pkg:10|thawed and squeezed dry|Birds Eye|s
gelatin|gelatin;strawberry gelatin;lime gelatin;unflavored gelatin|pkg:3,0.25||Jell-O;Knox|dl
cake mix|yellow cake mix;white cake mix;chocolate cake mix;cake mix|box:18.25||Duncan Hines;Betty Crocker|d
instant pudding|instant vanilla pudding;instant chocolate pudding;instant pudding mix|box:3.4||Jell-O|d
chocolate chips|semi-sweet chocolate chips;chocolate chips;semisweet chocolate morsels|pkg:12,6||Nestle Toll House;Hershey's|d
frozen peas|frozen peas;frozen green peas|pkg:10|thawed|Birds Eye;Green Giant|sl
whipped topping|whipped topping;frozen whipped topping|tub:8|thawed|Cool Whip|d
egg noodles|egg noodles;wide egg noodles|pkg:12,16|cooked and drained|No Yolks;Reames|s
spaghetti|spaghetti;thin spaghetti|pkg:16|broken in half;cooked al dente|Barilla;Mueller's|s
macaroni|elbow macaroni;macaroni|pkg:8,16|cooked and drained|Mueller's;San Giorgio|sl
lasagna noodles|lasagna noodles|count:9,12|uncooked||s
taco seasoning|taco seasoning;taco seasoning mix|packet||Old El Paso;Ortega|s
onion soup mix|onion soup mix;dry onion soup mix|packet||Lipton|s
ranch dressing mix|ranch dressing mix;dry ranch dressing mix|packet||Hidden Valley|sl
crescent rolls|refrigerated crescent rolls;crescent dinner rolls|can:8||Pillsbury|ds
biscuits|refrigerated biscuits;buttermilk biscuits|can:10||Pillsbury|s
pie shell|pie shell;unbaked pie shell;graham cracker crust;pie crust|pie||Keebler|d
onion|onion;large onion;yellow onion;medium onion;sweet onion;small onion;onions;large onions;yellow onions|produce:1,2|chopped;finely chopped;diced;sliced||sl
green onions|green onions;scallions;green onion|bunch|sliced;chopped, with tops||sl
garlic|garlic|clove|minced;crushed;finely chopped||sl
celery|celery|stalk|chopped;diced;thinly sliced||sl
carrots|carrots;medium carrots;baby carrots|produce:2,4|peeled and sliced;shredded;diced||sl
potatoes|potatoes;russet potatoes;red potatoes;medium potatoes|produce:4,6|peeled and cubed;diced;quartered||sl
green pepper|green pepper;green bell pepper;bell pepper;green peppers;green bell peppers|produce:1,2|chopped;seeded and diced||sl
red bell pepper|red bell pepper;sweet red pepper|produce:1|chopped;roasted and sliced||sl
tomatoes|tomatoes;ripe tomatoes;Roma tomatoes;plum tomatoes;cherry tomatoes|produce:2,4|chopped;diced;seeded and chopped;halved||sl
mushrooms|mushrooms;fresh mushrooms;sliced mushrooms;button mushrooms|weight:8|sliced;cleaned and sliced||sl
zucchini|zucchini;small zucchini;medium zucchini|produce:2,3|sliced;grated||sl
cabbage|cabbage;head cabbage;green cabbage|head|shredded;chopped||sl
lettuce|lettuce;iceberg lettuce;romaine lettuce;head lettuce|head|torn;shredded||l
spinach|fresh spinach;baby spinach;spinach|weight:6,10|washed and torn;stems removed||sl
broccoli|broccoli;broccoli florets;fresh broccoli|cup|chopped;steamed||sl
cauliflower|cauliflower;cauliflower florets|head|broken into florets||sl
cucumber|cucumber;English cucumber;medium cucumber;cucumbers|produce:1,2|peeled and sliced;thinly sliced;diced||l
jalapeno pepper|jalapeno pepper;jalapeño pepper;jalapeno;jalapeno peppers;jalapeños|produce:1,2|seeded and minced;finely chopped||s
lemon|lemon;lemons|produce:1,2|thinly sliced;zested||dl
apples|apples;tart apples;Granny Smith apples;baking apples|produce:3,6|peeled, cored and sliced;chopped||dl
bananas|bananas;ripe bananas;very ripe bananas|produce:2,3|mashed;sliced||d
strawberries|strawberries;fresh strawberries|pint|hulled and sliced;halved||dl
blueberries|blueberries;fresh blueberries|cup|rinsed;fresh or frozen||dl
cranberries|cranberries;fresh cranberries;dried cranberries|cup|chopped||dl
raisins|raisins;seedless raisins;golden raisins|cup|plumped||dl
dates|dates;chopped dates;pitted dates|cup|chopped||d
parsley|parsley;fresh parsley;flat-leaf parsley;Italian parsley|spoon|chopped;minced;snipped||sl
cilantro|cilantro;fresh cilantro|spoon|chopped;minced||sl
avocado|avocado;ripe avocado;avocados|produce:1,2|peeled and diced;mashed||l
sweet potatoes|sweet potatoes;yams;medium sweet potatoes|produce:2,4|peeled and cubed;cooked and mashed||ds
butternut squash|butternut squash;small butternut squash|produce:1|peeled, seeded and cubed||s
peaches|peaches;fresh peaches;sliced peaches|produce:4,6|peeled and sliced||d
eggs|eggs;large eggs;egg|produce:1,2,3,4|beaten;lightly beaten;separated;hard-boiled and chopped||dsl
egg whites|egg whites|produce:2,3,4|at room temperature;stiffly beaten||d
egg yolks|egg yolks|produce:2,3,4|beaten;lightly beaten||d
butter|butter;unsalted butter;salted butter|butter|softened;melted;cold and cubed;at room temperature|Land O'Lakes|ds
margarine|margarine;oleo|butter|softened;melted|Parkay;Blue Bonnet|ds
shortening|shortening;vegetable shortening|dry||Crisco|d
cheddar cheese|Cheddar cheese;sharp Cheddar cheese;mild Cheddar cheese|cheese|shredded;grated;cubed|Cracker Barrel;Tillamook|sl
mozzarella cheese|mozzarella cheese;part-skim mozzarella cheese|cheese|shredded;sliced|Sargento;Kraft|s
parmesan cheese|Parmesan cheese|cheese|grated;freshly grated;shredded|Kraft|sl
swiss cheese|Swiss cheese|cheese|shredded;sliced||sl
monterey jack cheese|Monterey Jack cheese|cheese|shredded;cubed||s
cottage cheese|cottage cheese;small-curd cottage cheese|liquid|drained||ls
ricotta cheese|ricotta cheese;part-skim ricotta cheese|liquid|||s
feta cheese|feta cheese|cheese|crumbled||l
american cheese|American cheese;process American cheese|slices|||s
velveeta|Velveeta;Velveeta cheese|weight:8,16|cubed||s
ground beef|ground beef;lean ground beef;extra-lean ground beef;ground chuck|lb|browned and drained||s
chicken breasts|boneless skinless chicken breasts;chicken breasts;chicken breast halves;boneless chicken breasts|lb|cut into bite-size pieces;cubed;pounded thin||sl
chicken|chicken;broiler-fryer chicken;whole chicken;cooked chicken|lb|cut up;cooked and cubed;skin removed||sl
bacon|bacon;slices bacon;thick-cut bacon|strips|cooked and crumbled;diced||sl
ham|ham;cooked ham;smoked ham|cup|cubed;diced;chopped||sl
pork chops|pork chops;boneless pork chops;center-cut pork chops|count:4,6|1-inch thick;trimmed||s
pork sausage|pork sausage;bulk pork sausage;breakfast sausage|lb|browned and drained|Jimmy Dean|s
italian sausage|Italian sausage;sweet Italian sausage;hot Italian sausage|lb|casings removed;sliced||s
smoked sausage|smoked sausage;kielbasa|lb|sliced|Hillshire Farm|s
shrimp|shrimp;medium shrimp;large shrimp|lb|peeled and deveined;cooked||sl
salmon fillets|salmon fillets;salmon fillet|lb|skin removed||s
ground turkey|ground turkey;lean ground turkey|lb|||s
beef stew meat|beef stew meat;stew beef;lean stew beef|lb|cut into 1-inch cubes||s
round steak|round steak;top round steak|lb|cut into strips;cut into serving pieces||s
pork tenderloin|pork tenderloin|lb|trimmed||s
chuck roast|chuck roast;boneless beef chuck roast;pot roast|lb|trimmed||s
pecans|pecans;chopped pecans;pecan halves|cup|chopped;toasted||dl
walnuts|walnuts;chopped walnuts;English walnuts|cup|chopped;coarsely chopped;toasted||dl
almonds|almonds;sliced almonds;slivered almonds|cup|toasted;blanched||dl
peanuts|peanuts;dry roasted peanuts;salted peanuts|cup|chopped|Planters|dl
coconut|coconut;flaked coconut;shredded coconut|cup|toasted|Baker's Angel Flake|d
peanut butter|peanut butter;creamy peanut butter;crunchy peanut butter|cup||Jif;Skippy|d
sesame seeds|sesame seeds|spoon|toasted||sl
sunflower seeds|sunflower seeds;roasted sunflower seeds|cup|||l
white bread|white bread;bread;sandwich bread|slices|cubed;crusts removed;toasted||ds
flour tortillas|flour tortillas|count:8,10|warmed|Mission|s
corn tortillas|corn tortillas|count:8,12|cut into strips||s
crackers|crackers;butter crackers;saltine crackers|sleeve|crushed|Ritz;Nabisco|sl
miniature marshmallows|miniature marshmallows;mini marshmallows|cup||Kraft Jet-Puffed|d
marshmallows|marshmallows;large marshmallows|count:16,24||Kraft Jet-Puffed|d
vanilla wafers|vanilla wafers|count:30,45|crushed|Nilla|d
chocolate|semi-sweet chocolate;unsweetened chocolate;baking chocolate|square:1,2,4|melted;chopped|Baker's|d
croutons|croutons;seasoned croutons|cup|||l
pimentos|pimentos;diced pimentos|jar:2,4|drained||l
pickle relish|sweet pickle relish;pickle relish|spoon|||l
dill pickles|dill pickles;pickles|count:2,3|chopped||l
`;

function parseVocabulary(text) {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [generic, surfaces, kind, preparations, brands, pools] = line.split("|");
      const [quantityKind, sizeList] = kind.split(":");
      return {
        generic,
        surfaces: surfaces.split(";"),
        quantityKind,
        sizes: sizeList ? sizeList.split(",") : [],
        preparations: preparations ? preparations.split(";") : [],
        brands: brands ? brands.split(";") : [],
        pools: pools.split(""),
      };
    });
}

const INGREDIENTS = parseVocabulary(VOCABULARY);
// staples never name a recipe ("Salt Casserole")
const STAPLES = new Set([
  "flour",
  "whole wheat flour",
  "self-rising flour",
  "sugar",
  "brown sugar",
  "powdered sugar",
  "baking soda",
  "baking powder",
  "cornstarch",
  "salt",
  "black pepper",
  "pepper",
  "water",
  "milk",
  "vegetable oil",
  "olive oil",
  "butter",
  "margarine",
  "shortening",
  "eggs",
  "egg whites",
  "egg yolks",
  "vanilla",
  "cream of tartar",
  "yeast",
  "garlic",
  "onion",
  "mayonnaise",
  "vinegar",
  "water",
  "salad dressing",
  "mustard",
  "lemon juice",
  "lime juice",
  "soy sauce",
  "worcestershire sauce",
  "chicken broth",
  "beef broth",
  "hot sauce",
  "sour cream",
  "heavy cream",
  "half-and-half",
  "buttermilk",
  "corn syrup",
  "bread crumbs",
  "cracker crumbs",
  "white bread",
  "parsley",
  "cilantro",
]);

const PEPPERS = new Set(["pepper", "black pepper"]);
const COUNTED_KINDS = new Set(["produce", "count", "bunch", "leaves"]);
// kinds of ingredient that can name a recipe ("Pecan Pie", not "Chili Powder Crunch")
const TITLE_KINDS = new Set([
  "can",
  "jar",
  "pkg",
  "box",
  "tub",
  "produce",
  "count",
  "bunch",
  "stalk",
  "weight",
  "head",
  "cup",
  "pint",
  "lb",
  "cheese",
  "square",
  "strips",
  "slices",
  "sleeve",
]);
const CUP = ["c.", "c.", "cup", "cups", "C."];
const TABLESPOON = ["Tbsp.", "tbsp.", "T.", "tablespoons", "Tbsp"];
const TEASPOON = ["tsp.", "tsp.", "t.", "teaspoon", "tsp"];
const FRACTIONS = ["1/4", "1/3", "1/2", "2/3", "3/4", "1", "1", "1 1/2", "2", "2", "3"];

function createGenerator(random) {
  const pick = (list) => list[Math.floor(random() * list.length)];
  const chance = (probability) => random() < probability;
  // "1/2 cup", "2 cups": spelled-out units agree with the amount (abbreviations never change)
  const plural = (unit, amount) => {
    const singular = /^(1|\d\/\d)$/.test(amount);
    const stem = unit.replace(/s$/, "");
    if (!["cup", "tablespoon", "teaspoon"].includes(stem)) return unit;
    return singular ? stem : `${stem}s`;
  };

  function quantity(item) {
    const size = item.sizes.length > 0 ? pick(item.sizes) : "";
    switch (item.quantityKind) {
      case "dry":
      case "liquid":
      case "cheese": {
        if (chance(0.7)) {
          const amount = pick(FRACTIONS);
          return `${amount} ${plural(pick(CUP), amount)}`;
        }
        if (item.quantityKind === "cheese") return `${pick(["4", "8", "6"])} oz.`;
        const spoons = pick(["1", "2", "3"]);
        return `${spoons} ${plural(pick(TABLESPOON), spoons)}`;
      }
      case "spoon": {
        const spoons = chance(0.6) ? [pick(["1", "2", "3", "1 1/2"]), pick(TABLESPOON)] : [pick(["1", "1/2", "2"]), pick(TEASPOON)];
        return `${spoons[0]} ${plural(spoons[1], spoons[0])}`;
      }
      case "spice": {
        if (chance(0.12)) return pick(["dash", "pinch of", "dash of"]);
        const spoons = chance(0.8) ? [pick(["1/8", "1/4", "1/2", "1", "1", "1 1/2", "2"]), pick(TEASPOON)] : [pick(["1", "2"]), pick(TABLESPOON)];
        return `${spoons[0]} ${plural(spoons[1], spoons[0])}`;
      }
      case "dash": {
        const spoons = [pick(["1/2", "1"]), pick(TEASPOON)];
        return chance(0.5) ? pick(["dash", "few drops", "several dashes"]) : `${spoons[0]} ${plural(spoons[1], spoons[0])}`;
      }
      case "can": {
        const count = pick(["1", "1", "1", "2"]);
        const unit = count === "1" ? "can" : "cans";
        return chance(0.8) ? `${count} (${size} oz.) ${unit}` : `${count} ${unit}`;
      }
      case "jar":
        return chance(0.7) ? `1 (${size} oz.) jar` : `1 jar (${size} oz.)`;
      case "pkg":
        return chance(0.75)
          ? `${pick(["1", "1", "2"])} (${size} oz.) ${pick(["pkg.", "pkg.", "package", "pkgs."])}`.replace(/^1 \((.*)\) pkgs\./, "1 ($1) pkg.")
          : `1 ${pick(["pkg.", "package"])}`;
      case "box":
        return chance(0.7) ? `1 (${size} oz.) box` : "1 box";
      case "tub":
        return `1 (${size} oz.) ${pick(["tub", "carton", "container"])}`;
      case "packet":
        return `1 ${pick(["pkg.", "envelope", "packet", "(1 oz.) pkg."])}`;
      case "produce":
        return pick(item.sizes);
      case "count":
        return pick(item.sizes);
      case "bunch":
        return pick(["1 bunch", "4", "6", "1/2 c."]);
      case "clove": {
        const count = pick(["1", "2", "2", "3", "4"]);
        return `${count} ${count === "1" ? "clove" : "cloves"}`;
      }
      case "stalk":
        return pick(["1 stalk", "2 stalks", "3 ribs", "1 rib", "1 c.", "1/2 c."]);
      case "weight":
        return `${pick(item.sizes)} oz.`;
      case "head":
        return pick(["1 head", "1 small head", "1/2 head", "4 c."]);
      case "cup": {
        const amount = pick(["1/2", "1", "1", "2", "3/4"]);
        return `${amount} ${plural(pick(["c.", "cup", "c."]), amount)}`;
      }
      case "pint":
        return pick(["1 pt.", "1 qt.", "2 c."]);
      case "leaves":
        return pick(["2", "3", "1"]);
      case "butter": {
        const amount = pick(["1/2", "1", "1/4", "2"]);
        return chance(0.4) ? pick(["1 stick", "2 sticks", "1/2 stick"]) : `${amount} ${plural(pick(CUP.concat(TABLESPOON)), amount)}`;
      }
      case "lb":
        return `${pick(["1", "1", "1 1/2", "2", "3"])} ${pick(["lb.", "lbs.", "pounds", "lb"])}`.replace(/^1 (lbs\.|pounds)/, "1 lb.");
      case "strips":
        return `${pick(["4", "6", "8"])} ${pick(["slices", "strips"])}`;
      case "slices":
        return `${pick(["4", "6", "8", "10"])} slices`;
      case "pie":
        return `1 ${pick(["(9-inch)", "9-inch", "(9 inch)"])}`;
      case "sleeve":
        return pick(["1 sleeve", "20", "1 c."]);
      case "square":
        return `${pick(item.sizes)} ${pick(["squares", "oz."])}`.replace(/^1 squares/, "1 square");
      default:
        throw new Error(`unknown quantity kind ${item.quantityKind}`);
    }
  }

  // "1 lemon" but "2 lemons", "1 bunch green onions": singular names only after a bare "1"
  function surfaceFor(item, amount) {
    if (!COUNTED_KINDS.has(item.quantityKind)) return pick(item.surfaces);
    const singular = amount === "1";
    const agreeing = item.surfaces.filter((surface) => surface.endsWith("s") !== singular);
    return pick(agreeing.length > 0 ? agreeing : item.surfaces);
  }

  function ingredientLine(item) {
    const amount = quantity(item);
    let surface = surfaceFor(item, amount);
    const brand = item.brands.length > 0 && chance(0.3) ? `${pick(item.brands)} ` : "";
    const preparation = item.preparations.length > 0 && chance(0.55) ? pick(item.preparations) : "";
    // some preparations read better before the name: "1 c. chopped pecans", "2 c. shredded Cheddar cheese"
    if (preparation && /^(chopped|shredded|grated|sliced|diced|minced|crumbled|cubed|melted)$/.test(preparation) && chance(0.5)) {
      return `${amount} ${preparation} ${brand}${surface}`;
    }
    if (item.quantityKind === "spice" && /^(dash|pinch of|dash of)$/.test(amount)) return `${amount} ${brand}${surface}`;
    if (item.quantityKind === "cheese" && amount.endsWith("oz.") && chance(0.4)) surface = `${surface} (about ${pick(["1", "2"])} c.)`;
    return `${amount} ${brand}${surface}${preparation ? `, ${preparation}` : ""}`;
  }

  const TITLES = {
    d: [
      "{M} Bars",
      "{M} Cake",
      "Grandma's {M} Cookies",
      "{M} Pie",
      "Easy {M} Delight",
      "{M} Crunch",
      "No-Bake {M} Squares",
      "{M} Bread",
      "{M} Cobbler",
      "Aunt Ruth's {M} Dessert",
      "{M} Muffins",
      "Old-Fashioned {M} Pudding",
    ],
    s: [
      "{M} Casserole",
      "Baked {M}",
      "{M} Skillet Supper",
      "Slow Cooker {M}",
      "{M} Stir-Fry",
      "Cheesy {M} Bake",
      "{M} Chili",
      "Smothered {M}",
      "Hearty {M} Soup",
      "{M} Stew",
      "Mom's {M} Hot Dish",
      "{M} Chowder",
    ],
    l: ["{M} Salad", "Layered {M} Salad", "Marinated {M}", "{M} Slaw", "Church Supper {M} Salad", "{M} Dip", "Summer {M} Salad", "{M} Side Dish"],
  };
  const titleCase = (text) => text.replace(/(^|[\s-])([a-z])/g, (_, before, letter) => before + letter.toUpperCase());

  function recipe() {
    const pool = pick(["d", "d", "s", "s", "s", "l"]);
    const candidates = INGREDIENTS.filter((item) => item.pools.includes(pool));
    const mains = candidates.filter((item) => !STAPLES.has(item.generic));
    const main = pick(mains.filter((item) => TITLE_KINDS.has(item.quantityKind)));
    const lineCount = 3 + Math.floor(random() * 8); // 3..10 lines
    const chosen = [main];
    const used = new Set([main.generic]);
    let attempts = 0;
    while (chosen.length < lineCount && attempts < 200) {
      attempts += 1;
      // staples are common in real recipes: draw from them about half the time
      const source = chance(0.45) ? candidates.filter((item) => STAPLES.has(item.generic)) : mains;
      const item = pick(source);
      // one generic name once per recipe; "pepper" and "black pepper" not both
      if (used.has(item.generic) || (PEPPERS.has(item.generic) && [...PEPPERS].some((name) => used.has(name)))) continue;
      used.add(item.generic);
      chosen.push(item);
    }
    // shuffle with the seeded PRNG (Fisher-Yates): the main ingredient is not always first
    for (let index = chosen.length - 1; index > 0; index -= 1) {
      const other = Math.floor(random() * (index + 1));
      [chosen[index], chosen[other]] = [chosen[other], chosen[index]];
    }
    const lines = [];
    const answer = [];
    for (const item of chosen) {
      lines.push(ingredientLine(item));
      answer.push(item.generic);
    }
    // the classic compound lines of real recipe cards
    if (pool !== "d" && !used.has("salt") && !used.has("pepper") && !used.has("black pepper") && chance(0.45)) {
      lines.push(pick(["salt and pepper to taste", "Salt and pepper to taste", "salt and freshly ground pepper to taste", "salt & pepper"]));
      answer.push("salt", "pepper");
    } else if (pool === "s" && !used.has("vegetable oil") && chance(0.15)) {
      lines.push(pick(["oil for frying", "vegetable oil for frying"]));
      answer.push("vegetable oil");
    } else if (chance(0.12)) {
      lines.push(pick(["nonstick cooking spray", "cooking spray", "Pam cooking spray"]));
      answer.push("cooking spray");
    }
    const title = pick(TITLES[pool]).replace("{M}", titleCase(main.generic));
    return { title, lines, answer };
  }

  return { recipe };
}

export function generateExamples() {
  const random = mulberry32(SEED);
  const generator = createGenerator(random);
  const total = COUNTS.train + COUNTS.validation + COUNTS.test;
  const seen = new Set();
  const examples = [];
  while (examples.length < total) {
    const { title, lines, answer } = generator.recipe();
    const user = `Title: ${title}\n\nIngredients:\n${lines.join("\n")}`;
    const assistant = JSON.stringify(answer);
    // keep examples short (the demo trains on 2 CPU cores): 440 characters of user + answer is
    // about 180 SmolLM2 tokens with the system prompt and the chat template
    if (user.length + assistant.length > MAX_CHARACTERS) continue;
    if (seen.has(user)) continue; // no example twice, so no example can land in two splits
    seen.add(user);
    examples.push({
      messages: [
        { role: "system", content: SYSTEM_PROMPT },
        { role: "user", content: user },
        { role: "assistant", content: assistant },
      ],
    });
  }
  return {
    train: examples.slice(0, COUNTS.train),
    validation: examples.slice(COUNTS.train, COUNTS.train + COUNTS.validation),
    test: examples.slice(COUNTS.train + COUNTS.validation),
  };
}

export function writeDataset(outDir) {
  mkdirSync(outDir, { recursive: true });
  const splits = generateExamples();
  const written = {};
  for (const [name, examples] of Object.entries(splits)) {
    const path = join(outDir, `${name}.jsonl`);
    writeFileSync(path, examples.map((example) => `${JSON.stringify(example)}\n`).join(""));
    written[name] = { path, examples: examples.length };
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? dirname(fileURLToPath(import.meta.url)));
  for (const [name, { path, examples }] of Object.entries(writeDataset(outDir))) {
    process.stdout.write(`${name}: ${examples} examples -> ${path}\n`);
  }
}
