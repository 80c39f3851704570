using System.ComponentModel;

namespace Caldera.CompilerServices;

/// <summary>A compressed matrix as a build saw it: W (rows×columns) ≈ Q + L·R with L: rows×rank, R: rank×columns.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct MatrixShape(string Name, int Rows, int Columns, int Rank);
