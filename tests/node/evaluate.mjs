// OpenFeature's Node SDK with its OFREP provider (both from npm), as a Node back end uses them.
//
//   OFREP_API_KEY=KEY node evaluate.mjs BASE_URL < questions.jsonl > answers.jsonl
//
// Each line of stdin is one evaluation: {"flag": "my_flag", "context": {"targetingKey": "User:1",
// "groups": ["admins"]}} (optional: "type" boolean|string|number|object and its "default"; no
// "context": none is passed). Each line of stdout is its answer, in the same order: the
// evaluation details {"value", "reason", "variant", "errorCode", "errorMessage"}. Evaluations run
// with up to OFREP_CONCURRENCY (default 16) requests in flight.
import { createInterface } from 'node:readline';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [baseUrl] = process.argv.slice(2);
if (!baseUrl || !process.env.OFREP_API_KEY) {
  console.error('usage: OFREP_API_KEY=KEY node evaluate.mjs BASE_URL < questions.jsonl');
  process.exit(2);
}
const concurrency = Number(process.env.OFREP_CONCURRENCY ?? 16);
const bearer = { Authorization: `Bearer ${process.env.OFREP_API_KEY}` };
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers: bearer }));
const client = OpenFeature.getClient();

const details = {
  boolean: (q) => client.getBooleanDetails(q.flag, q.default ?? false, q.context),
  string: (q) => client.getStringDetails(q.flag, q.default ?? '', q.context),
  number: (q) => client.getNumberDetails(q.flag, q.default ?? 0, q.context),
  object: (q) => client.getObjectDetails(q.flag, q.default ?? {}, q.context),
};

async function answer(question) {
  const found = await details[question.type ?? 'boolean'](question);
  const { value, reason, variant, errorCode, errorMessage } = found;
  return { value, reason, variant: variant ?? null, errorCode: errorCode ?? null, errorMessage: errorMessage ?? null };
}

const questions = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) questions.push(JSON.parse(line));
}
const answers = new Array(questions.length);
let next = 0;
async function worker() {
  while (next < questions.length) {
    const index = next++;
    answers[index] = await answer(questions[index]);
  }
}
await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
process.stdout.write(answers.map((a) => JSON.stringify(a)).join('\n') + (answers.length ? '\n' : ''));
await OpenFeature.close();
