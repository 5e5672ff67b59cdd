#!/usr/bin/env python3
"""One stage of LogReasoner's coarse-to-fine training with TRL, for a GPU cluster.

    accelerate launch --config_file accelerate.yaml train_stage.py --stage thought \
        --base MODEL --data sft_thought.jsonl --out adapters/thought
    accelerate launch --config_file accelerate.yaml train_stage.py --stage stepwise \
        --base MODEL --data sft_stepwise.jsonl --out adapters/stepwise --adapter adapters/thought
    accelerate launch --config_file accelerate.yaml train_stage.py --stage dpo \
        --base MODEL --data dpo.jsonl --out adapters/dpo --adapter adapters/stepwise

Stages:
  thought, stepwise  SFT (TRL SFTTrainer) on `logreasoner export sft --stage ... --format trl` output:
                     one {"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]} per
                     line; the loss covers the assistant's tokens only.
  dpo                DPO (TRL DPOTrainer) on `logreasoner export dpo --format trl` output:
                     {"prompt": [messages], "chosen": [{"role": "assistant", ...}], "rejected": [...]};
                     the reference model is the base with the adapter switched off.

Every stage trains one LoRA adapter (r=8, alpha=16, dropout 0.05 on q/k/v/o_proj by default) over the
frozen base and saves it in PEFT's layout (adapter_config.json + adapter_model.safetensors) in --out,
which `logreasoner ... --adapter DIR` loads back. With --adapter, training continues from that
adapter (its own rank and targets then apply) instead of a fresh one.

--base is a Hugging Face model id or folder (e.g. HuggingFaceTB/SmolLM2-135M-Instruct), or a GGUF file,
which transformers dequantises (slow to load, and a full-precision folder is better for big models).
"""

import argparse
import dataclasses
import json
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="One LogReasoner training stage (SFT or DPO with LoRA) with TRL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--stage", required=True, choices=["thought", "stepwise", "dpo"])
    p.add_argument("--base", required=True, help="base model: hub id, local folder, or .gguf file")
    p.add_argument("--data", required=True, help="training JSONL in TRL's conversational format")
    p.add_argument("--eval-data", help="optional dev JSONL (e.g. the *_dev.jsonl of an export)")
    p.add_argument("--out", required=True, help="folder the adapter is saved to")
    p.add_argument("--adapter", help="previous stage's adapter folder to continue from")

    # LoRA (only for a fresh adapter; a continued one keeps its saved settings).
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=16)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj", help="comma-separated")

    # Optimisation. None means the stage's default: 2e-4 for SFT, 5e-6 for DPO.
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 2e-4 SFT, 5e-6 DPO)")
    p.add_argument("--epochs", type=float, default=None, help="epochs (default: 3 SFT, 1 DPO)")
    p.add_argument("--batch", type=int, default=4, help="per-device batch size")
    p.add_argument("--grad-accum", type=int, default=4, help="gradient accumulation steps")
    p.add_argument("--max-length", type=int, default=2048, help="tokens per example (longer ones are truncated)")
    p.add_argument("--warmup-ratio", type=float, default=0.03)
    p.add_argument("--scheduler", default="cosine", help="transformers lr_scheduler_type")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--beta", type=float, default=0.1, help="DPO beta")
    p.add_argument(
        "--dpo-reference",
        choices=["start", "base"],
        default="start",
        help="DPO reference with --adapter: 'start' is a frozen copy of the adapter DPO starts from, "
        "i.e. the stepwise SFT model (as in the DPO paper and in LogReasoner's own trainer, whose "
        "reference is the base with the stepwise adapter merged); 'base' is the bare base model "
        "with the adapter disabled",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--loss-mask",
        choices=["auto", "assistant", "completion"],
        default="auto",
        help="SFT loss masking: 'assistant' uses SFTConfig(assistant_only_loss=True), which needs a chat "
        "template TRL can mark with {%% generation %%}; 'completion' splits each conversation into "
        "prompt (all but the last assistant turn) and completion (that turn) and trains on the "
        "completion only; 'auto' picks 'assistant' when the template allows it, else 'completion'",
    )

    # Runtime.
    p.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"], default="auto",
                   help="dtype of the frozen base (auto: bfloat16 on a GPU that has it, else float32)")
    p.add_argument("--gradient-checkpointing", action="store_true", help="less memory, ~30%% slower")
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--save-steps", type=int, default=500, help="checkpoint every N optimiser steps")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --out")
    p.add_argument("--report-to", default="none", help="none, tensorboard, wandb, ...")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sft = args.stage in ("thought", "stepwise")
    if args.lr is None:
        args.lr = 2e-4 if sft else 5e-6
    if args.epochs is None:
        args.epochs = 3.0 if sft else 1.0
    if args.stage == "stepwise" and not args.adapter:
        print("note: --stage stepwise without --adapter starts a fresh adapter (not from the thought stage)",
              file=sys.stderr)
    if args.stage == "dpo" and not args.adapter:
        print("note: --stage dpo without --adapter trains a fresh adapter (the paper continues from stepwise)",
              file=sys.stderr)

    # Heavy imports after argument parsing, so that --help is quick and works without a GPU.
    import torch
    import transformers
    from datasets import load_dataset
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import trl

    transformers.set_seed(args.seed)

    # ---- base model and tokenizer --------------------------------------------------------------------
    gpu = torch.cuda.is_available()
    bf16 = gpu and torch.cuda.is_bf16_supported()
    dtype_name = args.dtype if args.dtype != "auto" else ("bfloat16" if bf16 else "float32")
    dtype = getattr(torch, dtype_name)

    load_from, load_kwargs = args.base, {}
    gguf = args.base.endswith(".gguf")
    if gguf:
        load_from, load_kwargs["gguf_file"] = os.path.split(os.path.abspath(args.base))
        try:  # transformers >= 5 can keep GGUF blocks packed (not trainable); ask for plain weights
            from transformers import GgufConfig
            load_kwargs["quantization_config"] = GgufConfig(dequantize=True)
        except (ImportError, TypeError):
            pass  # older transformers always dequantises GGUF
    # transformers 4.56 renamed `torch_dtype` to `dtype`.
    dtype_key = "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"
    load_kwargs[dtype_key] = dtype

    tokenizer = AutoTokenizer.from_pretrained(load_from, **{k: v for k, v in load_kwargs.items() if k == "gguf_file"})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(load_from, **load_kwargs)
    if gguf:
        _forget_gguf_quantizer(model)
    model.config.use_cache = False  # no KV cache while training (and needed for gradient checkpointing)

    # ---- the adapter: continued or fresh -------------------------------------------------------------
    if args.adapter:
        # is_trainable=True: load the LoRA weights as trainable parameters (the default loads them frozen).
        model = PeftModel.from_pretrained(model, args.adapter, is_trainable=True)
    else:
        lora = LoraConfig(
            r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            target_modules=[t.strip() for t in args.lora_targets.split(",") if t.strip()],
            bias="none",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    if args.gradient_checkpointing:
        model.enable_input_require_grads()  # a frozen embedding otherwise cuts the graph
    if _is_main():
        model.print_trainable_parameters()

    # ---- data ----------------------------------------------------------------------------------------
    files = {"train": args.data}
    if args.eval_data:
        files["eval"] = args.eval_data
    data = load_dataset("json", data_files=files)

    # ---- training arguments shared by both trainers --------------------------------------------------
    common = dict(
        output_dir=args.out,
        learning_rate=args.lr,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch,
        per_device_eval_batch_size=args.batch,
        gradient_accumulation_steps=args.grad_accum,
        warmup_ratio=args.warmup_ratio,
        lr_scheduler_type=args.scheduler,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        max_length=args.max_length,
        seed=args.seed,
        bf16=bf16,
        logging_steps=args.logging_steps,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        eval_strategy="epoch" if args.eval_data else "no",
        report_to=args.report_to,
        # DDP: LoRA leaves most parameters frozen; without this DDP looks for unused ones every step.
        ddp_find_unused_parameters=False,
    )
    if args.gradient_checkpointing:
        common["gradient_checkpointing"] = True
        common["gradient_checkpointing_kwargs"] = {"use_reentrant": False}

    if sft:
        trainer = _sft_trainer(args, trl, model, tokenizer, data, common)
    else:
        trainer = _dpo_trainer(args, trl, model, tokenizer, data, common)

    trainer.train(resume_from_checkpoint=True if args.resume else None)

    # trainer.save_model calls PeftModel.save_pretrained(out) on the main process (after gathering the
    # weights under FSDP/DeepSpeed): adapter_config.json + adapter_model.safetensors, PEFT's tensor
    # names, no base weights. The tokenizer is saved beside it.
    trainer.save_model(args.out)
    trainer.accelerator.wait_for_everyone()
    if _is_main():
        missing = [f for f in ("adapter_config.json", "adapter_model.safetensors")
                   if not os.path.exists(os.path.join(args.out, f))]
        if missing:
            sys.exit(f"error: {args.out} lacks {', '.join(missing)}")
        print(json.dumps({"stage": args.stage, "adapter": os.path.abspath(args.out),
                          "trl": trl.__version__, "train_examples": len(data["train"])}))


def _sft_trainer(args, trl, model, tokenizer, data, common):
    mode = args.loss_mask
    if mode == "auto":
        mode = "assistant" if _template_supports_assistant_mask(trl, tokenizer) else "completion"
    if mode == "assistant":
        # SFTConfig(assistant_only_loss=True) (TRL >= 0.20): the chat template's {% generation %} markers
        # give a mask of the assistant's tokens, and only those count in the loss. TRL patches the
        # templates of common families with those markers; others need the 'completion' mode.
        extra = dict(assistant_only_loss=True)
    else:
        # Prompt-completion format: the completion is the last assistant turn (our exports have exactly
        # one, at the end), so completion_only_loss=True is the assistant-only loss for any template.
        data = data.map(_to_prompt_completion, remove_columns=["messages"])
        extra = dict(completion_only_loss=True)
    if _is_main():
        print(f"SFT loss on assistant tokens only, via {mode} masking", file=sys.stderr)
    config = _config(trl.SFTConfig, dict(common, packing=False, **extra))
    return trl.SFTTrainer(
        model=model,
        args=config,
        train_dataset=data["train"],
        eval_dataset=data.get("eval"),
        processing_class=tokenizer,
    )


def _dpo_trainer(args, trl, model, tokenizer, data, common):
    config = _config(trl.DPOConfig, dict(common, beta=args.beta))  # TRL's default loss: sigmoid (DPO)
    # ref_model=None with a PeftModel: no second copy of the base is held. TRL >= 1.0 adds a frozen
    # copy of the starting adapter named "ref" and computes the reference log-probs with it, so the
    # reference is the model DPO starts from (the stepwise SFT model with --adapter); this is
    # --dpo-reference start. With --dpo-reference base that copy is removed again and TRL then
    # disables the adapter for the reference pass, so the reference is the bare base (older TRL
    # versions always do this).
    trainer = trl.DPOTrainer(
        model=model,
        ref_model=None,
        args=config,
        train_dataset=data["train"],
        eval_dataset=data.get("eval"),
        processing_class=tokenizer,
    )
    has_ref_copy = "ref" in getattr(trainer.model, "peft_config", {})
    if args.dpo_reference == "base" and has_ref_copy:
        trainer.model.delete_adapter("ref")  # TRL then disables the adapter for the reference pass
        trainer.model.set_adapter("default")
    elif args.dpo_reference == "start" and args.adapter and not has_ref_copy and _is_main():
        print("warning: this TRL version has no frozen copy of the starting adapter; the DPO reference "
              "is the bare base (adapter disabled). Use TRL >= 1.0 for the stepwise model as reference.",
              file=sys.stderr)
    if _is_main():
        ref = "the starting adapter (frozen copy)" if "ref" in trainer.model.peft_config else "the base, adapter disabled"
        print(f"DPO reference: {ref}", file=sys.stderr)
    return trainer


def _forget_gguf_quantizer(model):
    """A dequantised GGUF model still carries transformers' GGUF quantizer, and Trainer refuses to train
    a "quantized" model; its weights are plain tensors by now, so the marker is dropped."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    packed = [n for n, m in model.named_modules() if type(m).__name__.lower().startswith("gguf")]
    if packed:
        sys.exit(f"error: {len(packed)} layers of the GGUF base stayed packed (e.g. {packed[0]}); "
                 "convert the model to a safetensors folder first")
    if not all(p.dtype.is_floating_point for p in model.parameters()):
        sys.exit("error: the GGUF base has non-float weights after loading; use a safetensors folder")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _to_prompt_completion(row):
    messages = row["messages"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {"prompt": messages[:last], "completion": messages[last:last + 1]}


def _template_supports_assistant_mask(trl, tokenizer):
    """Whether SFTConfig(assistant_only_loss=True) works with this tokenizer's chat template."""
    template = tokenizer.chat_template
    if isinstance(template, dict):
        template = template.get("default")
    if not template:
        return False
    if "{% generation %}" in template or "{%- generation %}" in template:
        return True
    try:  # TRL >= 1.x ships training versions of known templates
        from trl.chat_template_utils import get_training_chat_template
    except ImportError:
        return False
    try:
        get_training_chat_template(tokenizer)
        return True
    except (ValueError, TypeError):
        return False


def _config(cls, kwargs):
    """Builds a TRL config from `kwargs`, leaving out (and naming) options this TRL version lacks."""
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = dict(kwargs)
    if "warmup_ratio" in kwargs and "warmup_ratio" not in fields:
        # transformers 5 dropped warmup_ratio: a warmup_steps below 1 is the ratio.
        kwargs["warmup_steps"] = kwargs.pop("warmup_ratio")
    if "activation_checkpointing" in fields:
        # transformers 5 renamed gradient_checkpointing(_kwargs) to activation_checkpointing(_kwargs).
        for old in ("gradient_checkpointing", "gradient_checkpointing_kwargs"):
            if old in kwargs:
                kwargs[old.replace("gradient", "activation")] = kwargs.pop(old)
    unknown = sorted(k for k in kwargs if k not in fields)
    if unknown and _is_main():
        print(f"note: this TRL has no {cls.__name__} option {', '.join(unknown)}; left out", file=sys.stderr)
    return cls(**{k: v for k, v in kwargs.items() if k in fields})


def _version(text):
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _is_main():
    return int(os.environ.get("RANK", "0")) == 0


if __name__ == "__main__":
    main()
