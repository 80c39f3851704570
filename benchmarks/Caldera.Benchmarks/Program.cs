using BenchmarkDotNet.Running;
using Caldera.Benchmarks.Calibration;
using Caldera.Benchmarks.Decomposition;
using Caldera.Benchmarks.Inference;

// Every benchmark class in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*Sgemm*'
// Eleven probes are not benchmarks: `-- finetune-memory [threads] [steps]` (fine-tuning's peak memory), `-- finetune-kernels [threads]`
// (training's product kernels against the same tiles in L1), `-- sessions [threads] [tokens] [S…]` (concurrent sessions' throughput and latency),
// `-- chat-load <url> [tokens] [C…]` (C streaming clients against an OpenAI-compatible chat server), `-- calibration-memory [samples] [seq-len]`, `-- compress-synthetic [samples] [seq-len]`
// (one run takes minutes), `-- decode-profile [float|int8|int8-classifier|classifier-ab|qpass|lowrank|factor|classifier|prefill] …`
// (loops to profile and kernel probes) and `-- decompose [size] [fast|paper|paper1|ldlq] [threads]` (one decomposition's
// step profile at any size); `-- synthetic-gguf 0.5b|8b [layers] out.gguf` writes a synthetic Llama to disk and
// `-- compress-matrix model.gguf q|…|down [fast|paper|paperN] [threads]` times one matrix of block 0 with its peak memory;
// `-- synthetic-cald tokenizer.model out.cald` writes SyntheticCompressedLlama (random codes) as a .cald file, for
// timing published apps without the ≈ 19-minute compression.
if (args is ["calibration-memory", .. var rest]) CalibrationMemoryProbe.Run(rest);
else if (args is ["compress-synthetic", .. var more]) SyntheticCompressionProbe.Run(more);
else if (args is ["decode-profile", .. var decode]) DecodeProfileProbe.Run(decode);
else if (args is ["decompose", .. var decompose]) DecompositionProbe.Run(decompose);
else if (args is ["synthetic-gguf", .. var gguf]) SyntheticGguf.Run(gguf);
else if (args is ["compress-matrix", .. var matrix]) MatrixCompressionProbe.Run(matrix);
else if (args is ["sessions", .. var sessions]) SessionsProbe.Run(sessions);
else if (args is ["chat-load", .. var load]) ChatLoadProbe.Run(load);
else if (args is ["finetune-kernels", .. var kernels]) Caldera.Benchmarks.Training.FineTuneKernelsProbe.Run(kernels);
else if (args is ["finetune-memory", .. var tune]) Caldera.Benchmarks.Training.FineTuneMemoryProbe.Run(tune);
else if (args is ["synthetic-cald", var tokenizer, var cald]) SyntheticCompressedLlama.Write(tokenizer, cald);
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
