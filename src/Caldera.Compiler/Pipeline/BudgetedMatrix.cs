namespace Caldera.Compiler.Pipeline;

/// <summary>
/// A matrix as <see cref="RankBudget.Allocate"/> sees it: its shape, and what each rank removes of the loss,
/// <see cref="Gains"/>[k] for rank k + 1 (in any unit common to all matrices), non-increasing; no rank beyond
/// the last gain is bought.
/// </summary>
internal sealed record BudgetedMatrix(string Name, int Rows, int Columns, IReadOnlyList<double> Gains);
