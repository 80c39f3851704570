using BenchmarkDotNet.Running;

// Every benchmark class in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*Sgemm*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
