// Drives `vda mcp` with the official TypeScript MCP SDK, default request timeouts (60 s) and no
// progress-resets-timeout opt-in, the way a stock client would.
//
//   node client.mjs stdio --clips DIR --storage URL -- COMMAND ARGS...   spawn the server over stdio
//   node client.mjs http  --clips DIR --storage URL --url URL           connect to streamable HTTP
//
// Steps: initialize; tools/list with every inputSchema and outputSchema checked against the JSON
// Schema 2020-12 meta-schema and compiled by ajv; a policy denial whose rule id is in the
// structured error content; then a whole local run: select_flow, preflight, upload_dataset,
// pre_submit_guard, setup_model_cache, poll, pre_submit_guard, submit, poll, stage_artifacts,
// render_side_by_side. The SDK validates each structuredContent against the tool's outputSchema
// itself. One JSON report on stdout; exit 1 with {"error": ...} on the first failure.
import { existsSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const FLOW = "augmentation_and_al";
// OSMO's rule: anything that is not PENDING, RUNNING or WAITING is terminal
const ACTIVE = new Set(["PENDING", "RUNNING", "WAITING"]);

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  const opts = { mode, command: [] };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--") { opts.command = rest.slice(i + 1); break; }
    if (rest[i] === "--clips") opts.clips = rest[++i];
    else if (rest[i] === "--url") opts.url = rest[++i];
    else if (rest[i] === "--storage") opts.storage = rest[++i];
    else throw new Error(`unknown argument ${rest[i]}`);
  }
  if (!["stdio", "http"].includes(mode)) throw new Error("first argument: stdio or http");
  if (mode === "stdio" && opts.command.length === 0) throw new Error("stdio needs -- COMMAND ARGS...");
  if (mode === "http" && !opts.url) throw new Error("http needs --url");
  if (!opts.clips || !opts.storage) throw new Error("--clips DIR and --storage URL are required");
  return opts;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function textOf(result) {
  return (result.content ?? []).filter((b) => b.type === "text").map((b) => b.text).join("\n");
}

function checkSchemas(tools) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: true });
  addFormats(ajv);
  const problems = [];
  let compiled = 0;
  for (const tool of tools) {
    for (const [kind, schema] of [["inputSchema", tool.inputSchema], ["outputSchema", tool.outputSchema]]) {
      if (!schema) { problems.push(`${tool.name}.${kind}: missing`); continue; }
      if (!ajv.validateSchema(schema)) { problems.push(`${tool.name}.${kind}: ${ajv.errorsText(ajv.errors)}`); continue; }
      try { ajv.compile(schema); compiled++; } catch (err) { problems.push(`${tool.name}.${kind}: ${err.message}`); }
    }
    if (tool.inputSchema?.properties && "req" in tool.inputSchema.properties) problems.push(`${tool.name}.inputSchema: wrapped in req`);
  }
  return { compiled, problems };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const transport = opts.mode === "stdio"
    ? new StdioClientTransport({ command: opts.command[0], args: opts.command.slice(1), env: process.env, stderr: "inherit" })
    : new StreamableHTTPClientTransport(new URL(opts.url));
  const client = new Client({ name: "vda-ts-sdk-client", version: "1.0.0" });
  const report = { transport: opts.mode, calls: [], progress: 0 };
  const started = Date.now();
  await client.connect(transport);
  try {
    report.server = client.getServerVersion();
    report.instructions = (client.getInstructions() ?? "").length > 0;

    const { tools } = await client.listTools();
    report.tools = tools.map((t) => t.name).sort();
    report.tools_list_bytes = Buffer.byteLength(JSON.stringify({ tools }));
    const schemas = checkSchemas(tools);
    report.schemas_compiled = schemas.compiled;
    check(schemas.problems.length === 0, `schema problems: ${schemas.problems.join("; ")}`);

    // every call goes through here: default timeout, progress counted, errors thrown with their text
    const call = async (name, args, { allowError = false } = {}) => {
      const t0 = Date.now();
      const result = await client.callTool({ name, arguments: args }, undefined, { onprogress: () => { report.progress++; } });
      report.calls.push({ name, ms: Date.now() - t0, isError: Boolean(result.isError) });
      if (result.isError && !allowError) throw new Error(`${name} failed: ${textOf(result)}`);
      if (!result.isError) check(result.structuredContent && typeof result.structuredContent === "object", `${name}: no structuredContent`);
      return result;
    };
    const ok = async (name, args) => (await call(name, args)).structuredContent;
    const waitFor = async (workflowId) => {
      for (let round = 0; round < 40; round++) {
        const polled = await ok("poll", { workflow_id: workflowId, wait: true, interval_s: 1, max_interval_s: 2 });
        if (!ACTIVE.has(polled.status)) return polled;
      }
      throw new Error(`${workflowId}: still not finished after 40 polls`);
    };

    const choice = await ok("select_flow", { text: `augment my videos in ${opts.clips}` });
    check(choice.flow === FLOW, `select_flow chose ${choice.flow}`);

    // a policy denial: rule id in the structured error content as well as in the text. Read raw
    // (tools/call without the SDK's output check) and through callTool, which checks an error's
    // structuredContent against the tool's outputSchema too (SDK 1.32).
    const deniedArgs = { name: "prepare_demo_assets", arguments: { repo: "someone/other-videos" } };
    const denied = await client.request({ method: "tools/call", params: deniedArgs }, CallToolResultSchema);
    check(denied.isError, "prepare_demo_assets from another repo was not refused");
    const errors = denied.structuredContent?.errors ?? [];
    report.denial = { rules: errors.map((e) => e.rule), in_text: textOf(denied).includes("vda-demo-only") };
    check(report.denial.rules.includes("vda-demo-only"), `denial without the rule id in structuredContent: ${JSON.stringify(denied.structuredContent)}`);
    check(errors.every((e) => e.message && e.remedy), "a structured error without message or remedy");
    try {
      const viaSdk = await client.callTool(deniedArgs);
      report.denial.call_tool = viaSdk.isError && (viaSdk.structuredContent?.errors ?? []).some((e) => e.rule === "vda-demo-only") ? "ok" : "no rule";
    } catch (err) {
      report.denial.call_tool = String(err?.message ?? err);
    }

    const checked = await ok("preflight", { workflow: FLOW, no_probe: true });
    check(checked.status === "ok" && checked.platforms?.length, `preflight: ${JSON.stringify(checked)}`);
    const storage = opts.storage;
    const uploaded = await ok("upload_dataset", { folder: opts.clips, storage_url: storage, name: "ts-clips" });
    check(uploaded.videos?.includes("street"), `upload_dataset: ${JSON.stringify(uploaded.videos)}`);
    const values = {
      flow: FLOW, dataset: "ts-clips", storage_url: storage, gpu_platform: checked.platforms[0], video: "street",
      cosmos_model_cache_url: `${storage}/data/models/cosmos_transfer`,
      auto_labeling_model_cache_url: `${storage}/data/models/auto_labeling`,
    };
    let guard = await ok("pre_submit_guard", values);
    if (guard.status === "cache_missing") {
      const cache = await ok("setup_model_cache", guard.remediation.set_string);
      const cached = await waitFor(cache.workflow_id);
      check(cached.status === "COMPLETED", `model cache: ${cached.status}`);
      guard = await ok("pre_submit_guard", values);
    }
    check(guard.status === "ok", `guard: ${JSON.stringify(guard)}`);
    const submitted = await ok("submit", { ...values, run_id: guard.run_id });
    const polled = await waitFor(submitted.workflow_id);
    check(polled.status === "COMPLETED", `run: ${polled.status}`);
    const staged = await ok("stage_artifacts", { storage_url: storage, dataset: "ts-clips", run_id: guard.run_id, video: "street" });
    const compared = await ok("render_side_by_side", { run_local_dir: staged.local_run_dir, dataset: "ts-clips", video: "street" });
    check(compared.media_line?.startsWith("MEDIA:/"), `render_side_by_side: ${compared.media_line}`);
    const media = compared.media_line.slice("MEDIA:".length);
    check(existsSync(media), `${media} does not exist`);
    report.media = media;
    report.run_id = guard.run_id;
    report.seconds = (Date.now() - started) / 1000;
  } finally {
    await client.close();
  }
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err?.message ?? err) }) + "\n");
  process.exit(1);
});
