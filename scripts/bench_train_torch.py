#!/usr/bin/env python3
"""Reference training speed of PyTorch + PEFT LoRA on the CPU, for comparison with our candle trainer.

Loads a GGUF model with transformers (which dequantises it to float32), wraps it with a PEFT LoRA
adapter, and times full training steps (forward, backward, AdamW step, zero_grad) on a fixed batch
of token ids with the full causal-LM loss (labels = ids): the batch given with --ids (a JSON list of
rows, as `logreasoner bench train` writes it, so both train on the same tokens), else seeded random
ids.

Prints exactly one JSON line on stdout; everything else (library logs, progress) goes to stderr.

    pip install torch transformers peft gguf sentencepiece
    python3 scripts/bench_train_torch.py --model target/test-model/SmolLM2-135M-Instruct.Q4_1.gguf \
        --threads 2 --steps 3 --warmup 1
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="path to a GGUF file (Llama or Qwen2 family)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch intra- and inter-op threads")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    p.add_argument("--steps", type=int, default=6, help="timed steps (after warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha")
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj", help="comma-separated module names")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ids", help="JSON file with the batch: --batch rows of --seq token ids")
    return p.parse_args()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def main():
    args = parse_args()

    # Anything a library prints goes to stderr; only the final JSON line goes to the real stdout.
    stdout, sys.stdout = sys.stdout, sys.stderr

    import torch

    # Threads must be set before any parallel work starts (set_num_interop_threads fails after).
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)

    import peft
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    # Keep transformers' own messages on stderr and quiet.
    transformers.logging.set_verbosity_error()

    path = os.path.abspath(args.model)
    directory, name = os.path.split(path)
    log(f"loading {path} (dequantised to float32) ...")
    t0 = time.perf_counter()
    extra = {}
    try:  # transformers >= 5 keeps GGUF blocks packed when the `kernels` package is there: ask for plain weights
        from transformers import GgufConfig
        extra["quantization_config"] = GgufConfig(dequantize=True)
    except (ImportError, TypeError):
        pass  # older transformers always dequantises
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, torch_dtype=torch.float32, **extra)
    log(f"loaded in {time.perf_counter() - t0:.1f} s, dtype {next(model.parameters()).dtype}")

    # LoRA over the frozen base; dropout 0 so that every step does the same work.
    lora = LoraConfig(
        r=args.rank,
        lora_alpha=args.alpha,
        lora_dropout=0.0,
        target_modules=[t.strip() for t in args.targets.split(",") if t.strip()],
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    log(f"trainable parameters: {n_trainable}")

    optimizer = torch.optim.AdamW(trainable, lr=args.lr)

    # A deterministic batch: the one given, else ids drawn uniformly with a seeded generator.
    vocab = model.get_input_embeddings().weight.shape[0]
    if args.ids:
        try:
            with open(args.ids) as f:
                ids = torch.tensor(json.load(f), dtype=torch.long)
        except (OSError, ValueError, TypeError) as e:
            sys.exit(f"{args.ids}: not a JSON list of {args.batch} rows of {args.seq} token ids ({e})")
        if tuple(ids.shape) != (args.batch, args.seq):
            sys.exit(f"{args.ids}: expected {args.batch} rows of {args.seq} ids, got shape {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
            sys.exit(f"{args.ids}: token ids must lie in [0, {vocab}), got {int(ids.min())}..{int(ids.max())}")
    else:
        gen = torch.Generator().manual_seed(args.seed)
        ids = torch.randint(0, vocab, (args.batch, args.seq), generator=gen, dtype=torch.long)
    attention = torch.ones_like(ids)

    losses, times = [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        out = model(input_ids=ids, attention_mask=attention, labels=ids)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        loss = out.loss.item()
        losses.append(loss)
        timed = step >= args.warmup
        if timed:
            times.append(dt)
        log(f"step {step + 1}/{args.warmup + args.steps} {'timed' if timed else 'warm-up'}: "
            f"loss {loss:.4f}, {dt:.3f} s")

    median = statistics.median(times) if times else float("nan")
    print(json.dumps({
        "engine": "pytorch",
        "torch": torch.__version__,
        "peft": peft.__version__,
        "threads": args.threads,
        "batch": args.batch,
        "seq": args.seq,
        "step_secs": [round(t, 4) for t in times],
        "median_secs": round(median, 4),
        "tokens_per_sec": round(args.batch * args.seq / median, 2) if times else None,
        "trainable_params": n_trainable,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        # The process's peak resident memory, loading included (kilobytes on Linux, bytes on macOS).
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024),
    }), file=stdout, flush=True)


if __name__ == "__main__":
    main()
