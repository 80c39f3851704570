using BenchmarkDotNet.Running;
using Caldera.Benchmarks.Calibration;

// Every benchmark class in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*Sgemm*'
// Two probes are not benchmarks (one run takes minutes): `-- calibration-memory [samples] [seq-len]` and
// `-- compress-synthetic [samples] [seq-len]`.
if (args is ["calibration-memory", .. var rest]) CalibrationMemoryProbe.Run(rest);
else if (args is ["compress-synthetic", .. var more]) SyntheticCompressionProbe.Run(more);
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
