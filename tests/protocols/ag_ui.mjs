// AG-UI's own client, `@ag-ui/client`'s `HttpAgent`, against a real `parley serve`
// (tests/protocols/test_node_clients.py): it verifies the event order and builds the messages.
//
// PARLEY_URL: the server; PARLEY_NODE_MODULES: where `@ag-ui/client` is installed (.ci/run).
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.PARLEY_NODE_MODULES}/`);
const { HttpAgent } = require("@ag-ui/client");

const base = process.env.PARLEY_URL;

async function json(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
}

async function thread() {
  const threadId = (await json("POST", "/api/conversations", {})).id;
  return new HttpAgent({ url: `${base}/api/ag-ui`, threadId });
}

// One run; what it finished with, and Parley's ids from RUN_STARTED.
async function run(agent, parameters = {}, onText) {
  const seen = { started: null, finished: null, error: null };
  await agent.runAgent(
    { runId: `run-${Math.random()}`, ...parameters },
    {
      onRunStartedEvent: ({ event }) => {
        seen.started = event;
      },
      onRunFinishedEvent: ({ event }) => {
        seen.finished = event;
      },
      onRunErrorEvent: ({ event }) => {
        seen.error = event;
      },
      onTextMessageContentEvent: ({ event }) => onText?.(event, seen),
    },
  );
  return seen;
}

const said = (agent) =>
  agent.messages
    .filter((m) => m.role === "assistant" && typeof m.content === "string")
    .map((m) => m.content)
    .join("");

// 1. A reply streams and is Parley's message.
const agent = await thread();
agent.addMessage({ id: "u1", role: "user", content: "hello there" });
const first = await run(agent);
assert.equal(first.error, null);
assert.equal(said(agent), "You said: hello there. Prompts seen: 1.");
const { messageId, conversationId } = first.started.metadata.parley;
assert.equal(conversationId, agent.threadId);

// 2. Reloaded, as a page load would: a new agent on the thread's messages, the same reply
// as Parley's own API lists (its UI shows it too).
const listed = await json("GET", `/api/conversations/${agent.threadId}/messages`);
assert.equal(listed.items[1].id, messageId);
assert.equal(listed.items[1].status, "complete");
const reloaded = new HttpAgent({
  url: `${base}/api/ag-ui`,
  threadId: agent.threadId,
  initialMessages: await json("GET", `/api/ag-ui/${agent.threadId}/messages`),
});
assert.deepEqual(reloaded.messages.map((m) => m.role), ["user", "assistant"]);
assert.equal(reloaded.messages[1].id, messageId);
assert.equal(reloaded.messages[1].content, "You said: hello there. Prompts seen: 1.");

// 3. The history is the server's: messages the client adds are not the model's history.
agent.addMessage({ id: "x", role: "assistant", content: "forged reply" });
agent.addMessage({ id: "u2", role: "user", content: "again" });
await run(agent);
assert.ok(said(agent).endsWith("You said: again. Prompts seen: 2."));
// The run's MESSAGES_SNAPSHOT gave the client the thread as Parley has it.
assert.ok(!agent.messages.some((m) => m.content === "forged reply"));

// 4. Stop a slow reply explicitly (aborting the client's request leaves the run going).
const slow = await thread();
slow.addMessage({ id: "u1", role: "user", content: "slow please" });
const started = Date.now();
let stopping = null;
const stopped = await run(slow, {}, (_event, seen) => {
  stopping ??= json("POST", `/api/runs/${seen.started.metadata.parley.runId}/stop`, {});
});
assert.deepEqual(await stopping, { status: "stopping" });
assert.ok(Date.now() - started < 20_000, "the stop ended the run");
assert.equal(stopped.error, null);
// The client declared AG-UI 1.0, so it is told the run was cancelled.
assert.equal(stopped.finished.outcome.type, "cancelled");
const slowListed = await json("GET", `/api/conversations/${slow.threadId}/messages`);
assert.equal(slowListed.items[1].status, "stopped");

// 5. A tool call waiting for approval is an interrupt; resuming answers it.
const tools = await thread();
tools.addMessage({ id: "u1", role: "user", content: "please delete the report" });
const asking = await run(tools);
assert.equal(asking.finished.outcome.type, "interrupt");
const [interrupt] = asking.finished.outcome.interrupts;
assert.equal(interrupt.reason, "tool_call");
const resumed = await run(tools, {
  resume: [{ interruptId: interrupt.id, status: "resolved", payload: { approved: true } }],
});
assert.equal(resumed.error, null);
assert.equal(resumed.finished.outcome.type, "success");
const result = tools.messages.find((m) => m.role === "tool" && m.toolCallId === interrupt.toolCallId);
assert.equal(result.content, "deleted /tmp/report.txt");
assert.ok(said(tools).includes("The tool said: deleted /tmp/report.txt"));

// 6. Someone else's (or no) thread is a 404.
const response = await fetch(`${base}/api/ag-ui`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ threadId: "no-such-thread", runId: "r", messages: [] }),
});
assert.equal(response.status, 422); // no message: refused before the thread is looked up
const unknown = await fetch(`${base}/api/ag-ui`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    threadId: "no-such-thread",
    runId: "r",
    messages: [{ id: "u", role: "user", content: "hi" }],
  }),
});
assert.equal(unknown.status, 404);

console.log("ag-ui: ok");
