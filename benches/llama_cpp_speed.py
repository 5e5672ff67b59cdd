"""llama.cpp's side of `logreasoner bench llm` (pip package llama-cpp-python).

Usage: python3 benches/llama_cpp_speed.py MODEL PROMPT_FILE DECODE_TOKENS THREADS
Times the prompt's evaluation (prefill) and DECODE_TOKENS greedy single-token steps (decode) on the
same GGUF file, with the same thread count as ours. Prints one JSON object.
With --tokenize instead, prints the token ids of each line of PROMPT_FILE (special tokens parsed).
"""
import json
import sys
import time

from llama_cpp import Llama


def main():
    if sys.argv[1] == "--tokenize":
        llm = Llama(model_path=sys.argv[2], vocab_only=True, verbose=False)
        with open(sys.argv[3], encoding="utf-8") as f:
            texts = json.load(f)
        print(json.dumps([llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in texts]))
        return
    model, prompt_file, decode, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(prompt_file, encoding="utf-8") as f:
        prompt = f.read()
    llm = Llama(model_path=model, n_ctx=4096, n_threads=threads, n_threads_batch=threads, n_batch=4096, verbose=False)
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    start = time.perf_counter()
    llm.eval(tokens)
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(decode):
        token = int(llm.scores[llm.n_tokens - 1].argmax())
        llm.eval([token])
    decode_secs = time.perf_counter() - start
    print(json.dumps({"prompt_tokens": len(tokens), "prefill_tps": len(tokens) / prefill, "decode_tps": decode / decode_secs}))


if __name__ == "__main__":
    main()
