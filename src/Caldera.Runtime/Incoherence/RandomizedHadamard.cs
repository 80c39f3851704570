using System.Numerics.Tensors;

namespace Caldera.Runtime.Incoherence;

/// <summary>
/// The randomized Hadamard transform of one dimension n: random signs S ∈ {±1}ⁿ and the orthonormal
/// U_n of <see cref="HadamardTransform"/>. Incoherence processing uses one per matrix side:
///   W̃ = V_mᵀ·diag(SV)·W·diag(SU)·U_n,   H̃ = U_nᵀ·diag(SU)·H·diag(SU)·U_n,
/// and at inference u = U_nᵀ(SU ⊙ x).
/// </summary>
/// <remarks>
/// Same seed → same signs and same U, and every matrix operation transforms rows independently (columns via a
/// transpose), so results do not depend on the thread count. The signs and a fallback block are model
/// parameters: store them, not just the seed.
/// </remarks>
internal sealed class RandomizedHadamard
{
    /// <summary>Mixed into the seed for the fallback block, so signs and block come from separate streams.</summary>
    private const ulong BlockSeedSalt = 0xD1B54A32D192ED03UL;

    private readonly float[] signs;

    public RandomizedHadamard(HadamardTransform transform, float[] signs)
    {
        if (signs.Length != transform.Length)
            throw new ArgumentException($"{signs.Length} signs for a transform of dimension {transform.Length}.", nameof(signs));
        foreach (float s in signs)
            if (s is not (1f or -1f)) throw new ArgumentException($"a sign must be +1 or −1, got {s}.", nameof(signs));
        Transform = transform;
        this.signs = signs;
    }

    /// <summary>Draws n fair signs from <paramref name="seed"/> and builds U_n.</summary>
    public static RandomizedHadamard Create(int n, ulong seed)
    {
        HadamardTransform transform = HadamardTransform.Create(n, seed ^ BlockSeedSalt);
        var random = new SeededRandom(seed);
        var signs = new float[n];
        for (int i = 0; i < n; i++) signs[i] = random.NextSign();
        return new RandomizedHadamard(transform, signs);
    }

    public HadamardTransform Transform { get; }
    public int Length => Transform.Length;

    /// <summary>S, each ±1.</summary>
    public ReadOnlySpan<float> Signs => signs;

    /// <summary>u = Uᵀ(S ⊙ x). <paramref name="u"/> may be <paramref name="x"/> itself.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> u)
    {
        RequireLength(x.Length, nameof(x));
        RequireLength(u.Length, nameof(u));
        TensorPrimitives.Multiply(x, signs, u);
        Transform.ApplyTranspose(u, u);
    }

    /// <summary>x = S ⊙ (U·u), the inverse of <see cref="Forward"/>. <paramref name="x"/> may be <paramref name="u"/>.</summary>
    public void Inverse(ReadOnlySpan<float> u, Span<float> x)
    {
        RequireLength(u.Length, nameof(u));
        RequireLength(x.Length, nameof(x));
        Transform.Apply(u, x);
        TensorPrimitives.Multiply(x, signs, x);
    }

    /// <summary>W ← W·diag(S)·U (W is rows×n): row r becomes Forward(row r).</summary>
    public void TransformRows(Memory<float> w, int rows) => ForEachRow(w, rows, inverse: false);

    /// <summary>W ← W·Uᵀ·diag(S), undoing <see cref="TransformRows"/>.</summary>
    public void InverseTransformRows(Memory<float> w, int rows) => ForEachRow(w, rows, inverse: true);

    /// <summary>W ← Uᵀ·diag(S)·W (W is n×columns): each column becomes Forward(column).</summary>
    public void TransformColumns(Memory<float> w, int columns) => ForEachColumn(w, columns, inverse: false);

    /// <summary>W ← diag(S)·U·W, undoing <see cref="TransformColumns"/>.</summary>
    public void InverseTransformColumns(Memory<float> w, int columns) => ForEachColumn(w, columns, inverse: true);

    /// <summary>H ← Uᵀ·diag(S)·H·diag(S)·U for an n×n matrix H.</summary>
    public void TransformHessian(Memory<float> h)
    {
        TransformRows(h, Length);
        TransformColumns(h, Length);
    }

    private void ForEachRow(Memory<float> w, int rows, bool inverse)
    {
        RequireMatrix(w.Length, rows, "rows");
        Parallel.For(0, rows, r =>
        {
            Span<float> row = w.Span.Slice(r * Length, Length);
            if (inverse) Inverse(row, row);
            else Forward(row, row);
        });
    }

    private void ForEachColumn(Memory<float> w, int columns, bool inverse)
    {
        RequireMatrix(w.Length, columns, "columns");
        var transposed = new float[w.Length];
        Transpose(w.Span, Length, columns, transposed);
        ForEachRow(transposed, columns, inverse);
        Transpose(transposed, columns, Length, w.Span);
    }

    /// <summary>destination (columns×rows) = sourceᵀ, in tiles so both sides stay in cache.</summary>
    private static void Transpose(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination)
    {
        const int tile = 32;
        for (int r0 = 0; r0 < rows; r0 += tile)
            for (int c0 = 0; c0 < columns; c0 += tile)
                for (int r = r0; r < Math.Min(r0 + tile, rows); r++)
                    for (int c = c0; c < Math.Min(c0 + tile, columns); c++)
                        destination[c * rows + r] = source[r * columns + c];
    }

    private void RequireLength(int length, string name)
    {
        if (length != Length) throw new ArgumentException($"{name} has {length} entries; this transform has dimension {Length}.", name);
    }

    private void RequireMatrix(int length, int count, string what)
    {
        if (count <= 0 || (long)count * Length != length)
            throw new ArgumentException($"a matrix of {length} values is not {count} {what} × {Length}; the transformed side must have the transform's dimension {Length}.", nameof(count));
    }
}
