namespace Caldera.Compiler.Pipeline;

/// <summary>
/// A matrix as <see cref="RankBudget.Allocate"/> sees it: its shape, and what each rank removes of its relative error,
/// <see cref="Gains"/>[k] for rank k + 1 (<see cref="WeightedSpectrum.RelativeGains"/>), non-increasing; no rank beyond
/// the last gain is bought.
/// </summary>
internal sealed record BudgetedMatrix(string Name, int Rows, int Columns, IReadOnlyList<double> Gains);
