// A second, independent check of the JobSpec JSON Schema, as an editor would apply it.
//
// Usage: node check.mjs SCHEMA.json FILE.yaml...
// Prints one JSON object: {"FILE": {"parsed": bool, "valid": bool|null, "errors": [...]}}.
// Each file is parsed with the `yaml` package (the parser of the YAML language server, YAML
// 1.2, duplicate keys refused) and validated with Ajv's draft 2020-12 validator in strict
// mode, so a keyword, format or pattern Ajv does not understand fails the compile (exit 2).
// Two of strict mode's style lints are off, as both are plain JSON Schema: union types
// (`"type": ["string", "number"]`) and a `prefixItems` followed by `items` (a command's
// program name, then its arguments).
// Exit 0 when every file was checked (valid or not); 2 when the schema does not compile.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import YAML from "yaml";

const [schemaPath, ...files] = process.argv.slice(2);
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
let validate;
try {
  const ajv = new Ajv2020({
    strict: true,
    allowUnionTypes: true,
    strictTuples: false,
    allErrors: true,
  });
  validate = ajv.compile(schema);
} catch (err) {
  console.error(`the schema ${schemaPath} does not compile in Ajv: ${err.message}`);
  process.exit(2);
}

const results = {};
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    results[file] = { parsed: false, valid: null, errors: [`cannot read: ${err.message}`] };
    continue;
  }
  const docs = YAML.parseAllDocuments(text);
  const problems = docs.flatMap((d) => d.errors.map((e) => e.message));
  if (!Array.isArray(docs) || docs.length !== 1 || problems.length) {
    results[file] = {
      parsed: false,
      valid: null,
      errors: problems.length ? problems : [`${Array.isArray(docs) ? docs.length : 0} documents`],
    };
    continue;
  }
  let data;
  try {
    data = docs[0].toJS({ maxAliasCount: 100 });
  } catch (err) {
    // unresolved or exploding aliases: the editor shows this as a YAML error too
    results[file] = { parsed: false, valid: null, errors: [err.message] };
    continue;
  }
  const valid = validate(data);
  results[file] = {
    parsed: true,
    valid,
    errors: valid ? [] : validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}`),
  };
}
process.stdout.write(JSON.stringify(results, null, 1) + "\n");
