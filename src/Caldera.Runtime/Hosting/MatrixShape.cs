namespace Caldera.Runtime.Hosting;

/// <summary>A compressed matrix as a build saw it: W (rows×columns) ≈ Q + L·R with L: rows×rank, R: rank×columns.</summary>
public readonly record struct MatrixShape(string Name, int Rows, int Columns, int Rank);
