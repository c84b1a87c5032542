// Drives a SplitUp gateway with the official openai npm client and prints
// one JSON object with what it saw. Usage: node openai_client.mjs BASE_URL
// (BASE_URL without /v1). Run by the gateway's Go tests (TestOpenAIClient).
import OpenAI from "openai";

const base = process.argv[2];
if (!base) {
  console.error("usage: node openai_client.mjs BASE_URL");
  process.exit(2);
}
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "unused", maxRetries: 0, timeout: 30000 });
const model = "test-model";
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);
out.retrieved = (await client.models.retrieve(model)).id;

const c = await client.completions.create({ model, prompt: "Hi", max_tokens: 10, temperature: 0 });
out.completion = { text: c.choices[0].text, finish: c.choices[0].finish_reason, usage: c.usage, object: c.object };

let streamed = "";
let streamFinish = null;
let streamUsage = null;
const cs = await client.completions.create({
  model, prompt: "Hi", max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of cs) {
  for (const ch of chunk.choices) {
    streamed += ch.text;
    if (ch.finish_reason) streamFinish = ch.finish_reason;
  }
  if (chunk.usage) streamUsage = chunk.usage;
}
out.completionStream = { text: streamed, finish: streamFinish, usage: streamUsage };

const messages = [{ role: "system", content: "Tell stories." }, { role: "user", content: "Go" }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0.8, seed: 11, stop: ["zz"] });
out.chat = { text: chat.choices[0].message.content, role: chat.choices[0].message.role, finish: chat.choices[0].finish_reason, usage: chat.usage };

let chatStreamed = "";
let chatFinish = null;
const chs = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0.8, seed: 11, stop: ["zz"], stream: true });
for await (const chunk of chs) {
  for (const ch of chunk.choices) {
    chatStreamed += ch.delta.content ?? "";
    if (ch.finish_reason) chatFinish = ch.finish_reason;
  }
}
out.chatStream = { text: chatStreamed, finish: chatFinish };

async function failure(fn) {
  try {
    await fn();
    return { ok: true };
  } catch (err) {
    return { status: err.status, type: err.type, code: err.code, param: err.param, message: err.message, name: err.constructor.name };
  }
}
out.unknownModel = await failure(() => client.completions.create({ model: "no-such-model", prompt: "x" }));
out.badMaxTokens = await failure(() => client.chat.completions.create({ model, messages, max_tokens: 0 }));

console.log(JSON.stringify(out));
