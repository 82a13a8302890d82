#!/bin/sh
# run.sh: the main job behind `make run`: generate text from a model.
MODEL="$1"
if [ -z "$MODEL" ]; then
    cat >&2 <<'MSG'
frugal needs a model to run. No default model ships yet. Download a GGUF file, for example
TinyLlama-1.1B-Chat in Q4_0 or Q8_0 from Hugging Face (search for "TinyLlama GGUF", any
Llama 2/3.x, Mistral, DeepSeek-R1-Distill or Qwen2 GGUF works), or make a random-weight one
with `build/frugal synth tinyllama-1.1b -o tiny.gguf --type Q4_0`. Then run:
    make run MODEL=path/to/model.gguf
MSG
    exit 2
fi
exec build/frugal run -m "$MODEL" -p "${PROMPT:-Once upon a time}" -n "${N:-64}"
