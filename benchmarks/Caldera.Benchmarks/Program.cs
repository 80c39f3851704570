using BenchmarkDotNet.Running;
using Caldera.Benchmarks.Calibration;

// Every benchmark class in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*Sgemm*'
// The calibration memory probe is not a benchmark: `-- calibration-memory [samples] [seq-len]`.
if (args is ["calibration-memory", .. var rest]) CalibrationMemoryProbe.Run(rest);
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
