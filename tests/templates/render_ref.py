#!/usr/bin/env python3
"""render_ref.py: the reference renderer for frugal's chat-template tests.

Renders templates with Python's jinja2 set up as Hugging Face transformers does (and as
shared/templates/README.md describes): ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks and the loopcontrols extension; the raise_exception and strftime_now globals;
transformers' tojson filter. Prints one JSON document with every result on stdout; the C
test (tests/unit/test_template_ref.c) renders the same inputs and compares byte for byte.

  render_ref.py features FILE VARS.json
      FILE holds small templates, each after a line "### name"; all get the variables of
      VARS.json.
  render_ref.py conversations MANIFEST.json CONVERSATIONS.json SHARED_DIR NODE_MODULES_DIR
      Every template of the manifest with every conversation, add_generation_prompt true
      and false. Templates whose files are missing are left out (listed under "missing").

strftime_now formats the fixed day given by --date (default 2025-02-03) at 00:00:00.
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateRaised(jinja2.exceptions.TemplateError):
    """raise_exception() from the template (transformers raises TemplateError)."""


def make_env(day):
    def raise_exception(message):
        raise TemplateRaised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return day.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_compiled = {}


def render(env, source, context):
    try:
        if source not in _compiled:
            _compiled[source] = env.from_string(source)
        out = _compiled[source].render(**context)
        return {"ok": True, "output": out}
    except TemplateRaised as e:
        return {"ok": False, "raised": True, "error": str(e.message)}
    except Exception as e:  # any other template error: the C side must fail too
        return {"ok": False, "raised": False, "error": "%s: %s" % (type(e).__name__, e)}


def hf_special_tokens(config):
    """transformers' special_tokens_map: the special tokens that are set."""
    out = {}
    for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = config.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str) and v:
            out[key] = v
    extra = config.get("additional_special_tokens")
    if isinstance(extra, list) and extra:
        out["additional_special_tokens"] = [t.get("content") if isinstance(t, dict) else t for t in extra]
    return out


def features(path, vars_path, env):
    with open(vars_path, encoding="utf-8") as f:
        context = json.load(f)
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    cases, name, body = [], None, []
    for line in text.split("\n"):
        if line.startswith("### "):
            if name is not None:
                cases.append((name, "\n".join(body)))
            name, body = line[4:].strip(), []
        elif name is not None:
            body.append(line)
    if name is not None:
        cases.append((name, "\n".join(body)))
    results = []
    for name, source in cases:
        r = render(env, source, context)
        r["name"] = name
        r["template"] = source
        results.append(r)
    return {"features": results}


def conversations(manifest_path, conv_path, shared, node_modules, env):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    with open(conv_path, encoding="utf-8") as f:
        convs = json.load(f)
    results, missing = [], []
    for t in manifest:
        if "file" in t:
            path = os.path.join(shared, "templates", t["file"])
            if not os.path.exists(path):
                missing.append(t["id"])
                continue
            with open(path, "rb") as f:
                source = f.read().decode("utf-8")
            special = {k: t[k] for k in ("bos_token", "eos_token") if t.get(k) is not None}
        else:
            path = os.path.join(node_modules, t["hf"])
            if not os.path.exists(path):
                missing.append(t["id"])
                continue
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
            source = config["chat_template"]
            special = hf_special_tokens(config)
        for c in convs:
            for agp in (True, False):
                context = dict(special)
                context.update(c.get("vars", {}))
                context["messages"] = c["messages"]
                if "tools" in c:
                    context["tools"] = c["tools"]
                context["add_generation_prompt"] = agp
                r = render(env, source, context)
                r.update({"template": t["id"], "conversation": c["name"], "add_generation_prompt": agp})
                results.append(r)
    return {"conversations": results, "missing": missing}


def main(argv):
    date = "2025-02-03"
    if "--date" in argv:
        i = argv.index("--date")
        date = argv[i + 1]
        del argv[i : i + 2]
    day = datetime.datetime.strptime(date, "%Y-%m-%d")
    env = make_env(day)
    if len(argv) == 3 and argv[0] == "features":
        doc = features(argv[1], argv[2], env)
    elif len(argv) == 5 and argv[0] == "conversations":
        doc = conversations(argv[1], argv[2], argv[3], argv[4], env)
    else:
        sys.stderr.write(__doc__)
        return 2
    doc["jinja2"] = jinja2.__version__
    json.dump(doc, sys.stdout, ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
