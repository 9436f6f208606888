// nexus-memory: written by `nexus hooks install --agent opencode`; `nexus hooks uninstall` removes it.
// Captures OpenCode activity into Nexus Memory and feeds memory back into the system prompt.
// Every call runs `nexus hook opencode <event>` with a JSON payload on stdin and never throws.
import { spawn, spawnSync } from "node:child_process";

const NEXUS = __NEXUS__;

function call(event, payload, wait) {
  const input = JSON.stringify(payload);
  try {
    if (!wait) {
      const child = spawn(NEXUS, ["hook", "opencode", event], { stdio: ["pipe", "ignore", "ignore"], detached: true });
      child.on("error", () => {});
      child.stdin.on("error", () => {});
      child.stdin.end(input);
      child.unref();
      return "";
    }
    const r = spawnSync(NEXUS, ["hook", "opencode", event], { input, encoding: "utf8", timeout: 10000 });
    const out = JSON.parse(((r && r.stdout) || "").trim() || "{}");
    return typeof out.additionalContext === "string" ? out.additionalContext : "";
  } catch (e) {
    return "";
  }
}

export const NexusMemoryPlugin = async ({ directory, worktree }) => {
  const cwd = directory || worktree;
  const packs = new Map();
  const recalls = new Map();
  const pack = (sessionID, source) => {
    if (!sessionID) return "";
    if (!packs.has(sessionID)) packs.set(sessionID, call("session.created", { sessionID, cwd, source }, true));
    return packs.get(sessionID);
  };
  return {
    event: async ({ event }) => {
      const props = (event && event.properties) || {};
      const sessionID = props.sessionID || (props.info && props.info.id);
      if (!event || !sessionID) return;
      if (event.type === "session.created") pack(sessionID, "startup");
      else if (event.type === "session.idle") call("session.idle", { sessionID, cwd }, false);
      else if (event.type === "session.compacted") {
        packs.delete(sessionID);
        call("session.compacted", { sessionID, cwd }, false);
      } else if (event.type === "session.deleted") call("session.deleted", { sessionID, cwd }, false);
    },
    "chat.message": async (input, output) => {
      const parts = (output && output.parts) || [];
      const prompt = parts.filter((p) => p && p.type === "text" && !p.synthetic).map((p) => p.text).join("\n");
      if (!input || !input.sessionID || !prompt) return;
      pack(input.sessionID, "startup");
      recalls.set(input.sessionID, call("chat.message", { sessionID: input.sessionID, cwd, prompt }, true));
    },
    "experimental.chat.system.transform": async (input, output) => {
      const sessionID = input && input.sessionID;
      if (!sessionID || !output || !Array.isArray(output.system)) return;
      const start = pack(sessionID, "startup");
      if (start) output.system.push(start);
      const recall = recalls.get(sessionID);
      if (recall) output.system.push(recall);
    },
    "tool.execute.after": async (input, output) => {
      if (!input) return;
      call("tool.execute.after", {
        sessionID: input.sessionID, cwd, tool_name: input.tool, tool_input: input.args,
        tool_response: output && output.output,
      }, false);
    },
    "experimental.session.compacting": async (input, output) => {
      const sessionID = input && input.sessionID;
      if (!sessionID) return;
      call("experimental.session.compacting", { sessionID, cwd }, false);
      const start = packs.get(sessionID);
      if (start && output && Array.isArray(output.context)) output.context.push(start);
    },
  };
};
