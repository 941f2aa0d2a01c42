// A page reading its front-end flags as a browser app does: OpenFeature's web SDK with its OFREP
// provider (bulk evaluation, polled with the ETag), bundled with esbuild into page.js.
//
// index.html?api=BASE_URL&key=FRONTEND_KEY&user=User:1&groups=a,b&flags=f1,f2&poll=MS
// shows each named flag's details; window.ofrep holds them for tests, with every bulk request
// (If-None-Match sent, the context's targetingKey, status, ETag and the flag keys answered) and
// every provider event. poll=0 polls never: the bulk evaluation is fetched only when the context
// changes, as window.evaluateEach does for tests (an app switching users would).
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const params = new URLSearchParams(window.location.search);
const names = (params.get('flags') ?? '').split(',').filter(Boolean);
const groups = (params.get('groups') ?? '').split(',').filter(Boolean);
const state = { status: 'loading', flags: {}, requests: [], events: [], error: null };
window.ofrep = state;

async function loggedFetch(request, init) {
  const context = JSON.parse((await request.clone().text()) || '{}').context ?? {};
  const sent = { ifNoneMatch: request.headers.get('If-None-Match'), targetingKey: context.targetingKey ?? null };
  sent.at = performance.now();
  try {
    const response = await fetch(request, init);
    const body = response.status === 200 ? await response.clone().json() : null;
    const keys = body && Array.isArray(body.flags) ? body.flags.map((flag) => flag.key) : null;
    state.requests.push({ ...sent, status: response.status, etag: response.headers.get('ETag'), keys });
    return response;
  } catch (error) {
    state.requests.push({ ...sent, status: 0, error: String(error) });
    throw error;
  }
}

const client = OpenFeature.getClient();

function render() {
  state.status = client.providerStatus;
  for (const name of names) {
    const { value, reason, variant, errorCode } = client.getBooleanDetails(name, false);
    state.flags[name] = { value, reason, variant: variant ?? null, errorCode: errorCode ?? null };
  }
  document.getElementById('status').textContent = state.status;
  document.getElementById('flags').textContent = JSON.stringify(state.flags, null, 2);
}

for (const event of [ProviderEvents.Ready, ProviderEvents.ConfigurationChanged, ProviderEvents.Error, ProviderEvents.Stale]) {
  client.addHandler(event, (details) => {
    state.events.push({ event, flagsChanged: details?.flagsChanged ?? null, at: performance.now() });
    render();
  });
}

// Each context in turn ({targetingKey, groups}) set as the page's, and then each named flag read:
// per context, [the requests its change made as [status, targetingKey sent], [[value, reason,
// errorCode] of each flag]]. A failed re-fetch leaves the previous answers in the provider's cache,
// so the requests say whether the answers are this context's.
window.evaluateEach = async function evaluateEach(contexts, flags) {
  const answers = [];
  for (const context of contexts) {
    const before = state.requests.length;
    await OpenFeature.setContext(context);
    const requests = state.requests.slice(before).map((r) => [r.status, r.targetingKey]);
    const details = flags.map((flag) => client.getBooleanDetails(flag, false));
    answers.push([requests, details.map((d) => [d.value, d.reason, d.errorCode ?? null])]);
  }
  return answers;
};

await OpenFeature.setContext({ targetingKey: params.get('user') ?? undefined, groups });
try {
  await OpenFeature.setProviderAndWait(
    new OFREPWebProvider({
      baseUrl: params.get('api'),
      headers: [['Authorization', `Bearer ${params.get('key')}`]],
      pollInterval: Number(params.get('poll') ?? 30000),
      cacheMode: 'disabled',
      fetchImplementation: loggedFetch,
    }),
  );
} catch (error) {
  state.error = String(error);
}
render();
