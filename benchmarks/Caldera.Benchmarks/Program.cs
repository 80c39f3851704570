using BenchmarkDotNet.Running;
using Caldera.Benchmarks.Calibration;
using Caldera.Benchmarks.Decomposition;
using Caldera.Benchmarks.Inference;

// Every benchmark class in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*Sgemm*'
// Five probes are not benchmarks: `-- sessions [threads] [tokens] [S…]` (concurrent sessions' throughput and latency), `-- calibration-memory [samples] [seq-len]`, `-- compress-synthetic [samples] [seq-len]`
// (one run takes minutes), `-- decode-profile [float|int8|int8-classifier|classifier-ab|qpass|lowrank|factor|classifier|prefill] …`
// (loops to profile and kernel probes) and `-- decompose [size] [fast|paper|paper1|ldlq] [threads]` (one decomposition's
// step profile at any size).
if (args is ["calibration-memory", .. var rest]) CalibrationMemoryProbe.Run(rest);
else if (args is ["compress-synthetic", .. var more]) SyntheticCompressionProbe.Run(more);
else if (args is ["decode-profile", .. var decode]) DecodeProfileProbe.Run(decode);
else if (args is ["decompose", .. var decompose]) DecompositionProbe.Run(decompose);
else if (args is ["sessions", .. var sessions]) SessionsProbe.Run(sessions);
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
