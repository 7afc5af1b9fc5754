import { useEffect, useState } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso/router";
import { api, apiKey, authProblem, serverReachable, setApiKey } from "./lib/api.js";
import type { ServerInfo } from "./lib/wire.js";
import { serverInfo } from "./lib/server-state.js";
import { DataScreen } from "./screens/data-screen.js";
import { JobDetailScreen } from "./screens/job-detail-screen.js";
import { JobsScreen } from "./screens/jobs-screen.js";
import { NewJobScreen } from "./screens/new-job-screen.js";
import { PlaygroundScreen } from "./screens/playground-screen.js";
import { Notice } from "./components/ui.js";

const NAV = [
  { href: "/data", label: "Data" },
  { href: "/jobs/new", label: "New job" },
  { href: "/jobs", label: "Jobs" },
  { href: "/playground", label: "Playground" },
];

/**
 * The shell: navigation, the API-key prompt (when the server wants a key or refused one), a
 * banner while the server cannot be reached, and the screens.
 */
export function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}

function Shell() {
  const { path } = useLocation();
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        serverInfo.value = await api<ServerInfo>("/v1/tunekit/server");
      } catch {
        // an auth problem shows the key form; an unreachable server shows the banner and retries
        if (!stopped && !authProblem.value) setTimeout(load, 2000);
      } finally {
        if (!stopped) setLoaded(true);
      }
    };
    void load();
    return () => {
      stopped = true;
    };
  }, [apiKey.value]);

  const active = (href: string) => (href === "/jobs" ? path === "/jobs" || (path.startsWith("/jobs/") && path !== "/jobs/new") : path.startsWith(href));
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/jobs">
          Tunekit
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={active(item.href) ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="top-status">
          {serverInfo.value ? (
            <span class="muted">
              {serverInfo.value.project.name} · v{serverInfo.value.version}
            </span>
          ) : null}
          {apiKey.value ? (
            <button type="button" class="button-small" onClick={() => setApiKey(null)}>
              Forget key
            </button>
          ) : null}
        </div>
      </header>
      {!serverReachable.value ? (
        <Notice kind="warning">The Tunekit server cannot be reached. The page keeps trying and carries on when it is back; training goes on without this page.</Notice>
      ) : null}
      <main id="main">
        {authProblem.value ? (
          <KeyForm problem={authProblem.value} />
        ) : !loaded ? (
          <p class="muted">Connecting…</p>
        ) : (
          <Router>
            <Route path="/" component={JobsScreen} />
            <Route path="/data" component={DataScreen} />
            <Route path="/data/:fileId" component={DataScreen} />
            <Route path="/jobs" component={JobsScreen} />
            <Route path="/jobs/new" component={NewJobScreen} />
            <Route path="/jobs/:id" component={JobDetailScreen} />
            <Route path="/jobs/hosted/:provider/:id" component={JobDetailScreen} />
            <Route path="/playground" component={PlaygroundScreen} />
            <Route default component={NotFound} />
          </Router>
        )}
      </main>
    </div>
  );
}

function KeyForm({ problem }: { problem: string }) {
  const [key, setKey] = useState("");
  return (
    <form
      class="panel key-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (key.trim()) setApiKey(key.trim());
      }}
    >
      <h1>API key</h1>
      <Notice kind="warning">{problem}</Notice>
      <p class="muted">The key stays in this tab only (sessionStorage) and goes to this server as a bearer token.</p>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" value={key} onInput={(event) => setKey((event.target as HTMLInputElement).value)} placeholder="tk-..." />
      <button type="submit" class="button button-primary">
        Use this key
      </button>
    </form>
  );
}

function NotFound() {
  return (
    <div class="panel">
      <h1>Page not found</h1>
      <p>
        Go to <a href="/jobs">the jobs</a> or <a href="/data">your data</a>.
      </p>
    </div>
  );
}
