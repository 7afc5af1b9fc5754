import { describe, expect, it } from "vitest";
import { overfittingHint } from "./overfitting.js";

const evaluations = (losses: number[]) => losses.map((validLoss, index) => ({ step: (index + 1) * 10, validLoss }));
const checkpoints = [
  { step: 20, id: "ftckpt-a", model: "ft:m:s:x:ckpt-step-20", validLoss: 1.1 },
  { step: 40, id: "ftckpt-b", model: "ft:m:s:x:ckpt-step-40", validLoss: 0.9 },
  { step: 60, id: "ftckpt-c", model: "ft:m:s:x:ckpt-step-60", validLoss: 1.2 },
];

describe("overfittingHint", () => {
  it("says nothing while validation loss improves, or has risen for fewer evaluations than the patience", () => {
    expect(overfittingHint(evaluations([2, 1.5, 1.2, 1.0, 0.9]), checkpoints)).toBeNull();
    expect(overfittingHint(evaluations([2, 1.5, 0.9, 1.0, 1.1]), checkpoints)).toBeNull();
  });

  it("names the checkpoint with the lowest validation loss once the loss has not improved for 3 evaluations", () => {
    const hint = overfittingHint(evaluations([2, 1.5, 1.1, 0.9, 1.0, 1.1, 1.2]), checkpoints);
    expect(hint).toEqual({ bestStep: 40, bestLoss: 0.9, latestLoss: 1.2, evaluationsSince: 3, checkpoint: checkpoints[1] });
  });

  it("falls back to the last checkpoint at or before the best evaluation when checkpoints carry no validation loss", () => {
    const plain = checkpoints.map(({ validLoss: _validLoss, ...rest }) => rest);
    expect(overfittingHint(evaluations([2, 1.5, 1.1, 0.9, 1.0, 1.1, 1.2]), plain)?.checkpoint).toEqual(plain[1]);
    expect(overfittingHint(evaluations([0.5, 1.5, 1.1, 1.2, 1.3]), plain)?.checkpoint).toBeNull();
  });

  it("does not fire when the latest evaluation is back at the best", () => {
    expect(overfittingHint(evaluations([1, 0.8, 0.9, 1.0, 0.8]), checkpoints)).toBeNull();
  });
});
