using BenchmarkDotNet.Running;
using Caldera.Benchmarks.Calibration;
using Caldera.Benchmarks.Inference;

// Every benchmark class in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*Sgemm*'
// Three probes are not benchmarks: `-- calibration-memory [samples] [seq-len]`, `-- compress-synthetic [samples] [seq-len]`
// (one run takes minutes) and `-- decode-profile [float|int8|int8-classifier|classifier-ab] [tokens] [threads]` (a loop to profile).
if (args is ["calibration-memory", .. var rest]) CalibrationMemoryProbe.Run(rest);
else if (args is ["compress-synthetic", .. var more]) SyntheticCompressionProbe.Run(more);
else if (args is ["decode-profile", .. var decode]) DecodeProfileProbe.Run(decode);
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
