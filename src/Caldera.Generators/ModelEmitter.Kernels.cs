using System.Globalization;

namespace Caldera.Generators;

/// <summary>
/// The shape-specialised row kernels. A row of n = 8·V weights is V code vectors, each decoded into one Vector256 by
/// <c>CodedVectors</c>; the emitter knows V, so every loop has a constant trip count, the leftover vectors are written
/// out, and one length check up front covers the whole row.
/// </summary>
/// <remarks>
/// Each kernel sums in exactly the order of its generic counterpart in <c>CodedRows</c> (the same accumulators, the
/// same pairing of partial sums), so a generated model computes the same logits as the generic runtime, bit for bit on
/// the same machine, and the differential test can hold it to that. What specialisation changes is control flow:
/// constant bounds, no per-row length arithmetic, the tail unrolled.
/// </remarks>
internal static partial class ModelEmitter
{
    /// <summary>Accumulators of the generic kernels (CodedRows): DotE8P 4, DotE8PRows 8, DotResidual 2; AddL is per vector.</summary>
    private const int Unroll = 4, RowsUnroll = 8, ResidualUnroll = 2;

    /// <summary>The generic DotE8PRows keeps its block sums on the stack up to this many vectors (CodedRows.MaxStackBlockSums).</summary>
    public const int MaxBlockSumVectors = 4096;

    // Short names for the kernel primitives, bound by file-level aliases (see KernelAliases) so the kernels read as hand-written code.
    private const string V256 = "Vector256";
    private const string Coded = "CodedVectors";
    private const string Unsafe = "Unsafe";
    private const string Marshal = "MemoryMarshal";

    /// <summary>The using aliases the kernels' short names rely on; file-scoped, so they touch no user code.</summary>
    private static readonly string[] KernelAliases =
    {
        "using CodedVectors = global::Caldera.CompilerServices.CodedVectors;",
        "using MemoryMarshal = global::System.Runtime.InteropServices.MemoryMarshal;",
        "using TensorPrimitives = global::System.Numerics.Tensors.TensorPrimitives;",
        "using Unsafe = global::System.Runtime.CompilerServices.Unsafe;",
        "using Vector256 = global::System.Runtime.Intrinsics.Vector256;",
    };

    private static void Kernels(CodeWriter w, KernelShape k)
    {
        int vectors = k.Columns / 8;
        w.Line();
        w.Line($"/// <summary>Row kernels for {I(k.Rows)}×{I(k.Columns)} matrices of rank {I(k.Rank)}: rows of {I(vectors)} code vectors.</summary>");
        using (w.Block($"private sealed class {k.ClassName} : {CompilerServices}.ICompressedRowKernels"))
        {
            w.Line($"public static readonly {k.ClassName} Instance = new {k.ClassName}();");
            w.Line();
            w.Line($"private const int Columns = {I(k.Columns)};");
            w.Line($"private const int Vectors = {I(vectors)};");
            w.Line();
            w.Line($"// Σ_v ⟨C[w_v], u[8v, 8v+8)⟩ over the {I(vectors)} E8P code vectors of a row of Q.");
            Dot(w, "DotQ", vectors, wordsPerVector: 1, Unroll);
            w.Line();
            DotRows(w, vectors);
            w.Line();
            w.Line($"// Σ_v ⟨C[w₂ᵥ] + C[w₂ᵥ₊₁]/ρ, u[8v, 8v+8)⟩ over the {I(vectors)} residual code vectors of a row of R.");
            Dot(w, "DotR", vectors, wordsPerVector: 2, ResidualUnroll);
            w.Line();
            AddL(w, k.Rows);
        }
    }

    private static void Dot(CodeWriter w, string name, int vectors, int wordsPerVector, int unroll)
    {
        using (w.Block($"public float {name}(global::System.ReadOnlySpan<ushort> words, global::System.ReadOnlySpan<float> u)"))
        {
            string words = wordsPerVector == 1 ? "Vectors" : "2 * Vectors";
            w.Line($"if (words.Length != {words} || u.Length != Columns)");
            w.Line($"    throw new global::System.ArgumentException($\"a row of {{Columns}} weights needs {{{words}}} code words and {{Columns}} inputs, got {{words.Length}} and {{u.Length}}\");");
            w.Line($"ref ushort w = ref {Marshal}.GetReference(words);");
            w.Line($"ref float x = ref {Marshal}.GetReference(u);");
            Accumulators(w, unroll);
            int rounds = vectors / unroll;
            if (rounds > 0)
                using (w.Block($"for (nuint v = 0; v < {I(rounds * unroll)}; v += {I(unroll)})"))
                    for (int j = 0; j < unroll; j++)
                        w.Line(Fma(j, Decode(wordsPerVector, j == 0 ? "v" : $"v + {I(j)}"), j == 0 ? "8 * v" : $"8 * v + {I(8 * j)}"));
            // The generic kernels finish a row's leftover vectors on the first accumulator.
            for (int v = rounds * unroll; v < vectors; v++)
                w.Line(Fma(0, Decode(wordsPerVector, I(v)), I(8 * v)));
            w.Line($"return {V256}.Sum({Tree(0, unroll)});");
        }
    }

    /// <summary>
    /// y[r] = Σ_v ⟨C[w_v], u_v⟩ for each row of a chunk, as the generic DotE8PRows sums it: Σ_v ⟨P̃ ⊙ S, u_v⟩ over eight
    /// accumulators plus ¼·Σ_v ±b_v with the block sums b_v = Σ u_v computed once per call, so the shift never enters the decode.
    /// </summary>
    private static void DotRows(CodeWriter w, int vectors)
    {
        int groups = vectors / RowsUnroll;
        w.Line($"// y[r] = Σ_v ⟨P̃⊙S of w_v, u_v⟩ + ¼·Σ_v ±b_v for each row: the block sums b_v = Σ u[8v, 8v+8) carry the ±¼ shifts.");
        using (w.Block("public void DotQRows(global::System.ReadOnlySpan<ushort> words, global::System.ReadOnlySpan<float> u, global::System.Span<float> y)"))
        {
            w.Line("if (u.Length != Columns || words.Length != (long)Vectors * y.Length)");
            w.Line("    throw new global::System.ArgumentException($\"{y.Length} rows of {Columns} weights need {(long)Vectors * y.Length} code words and {Columns} inputs, got {words.Length} and {u.Length}\");");
            w.Line("global::System.Span<float> blockSums = stackalloc float[Vectors];");
            w.Line("for (int v = 0; v < Vectors; v++) blockSums[v] = TensorPrimitives.Sum(u.Slice(8 * v, 8));");
            w.Line($"ref float x = ref {Marshal}.GetReference(u);");
            w.Line($"ref float b = ref {Marshal}.GetReference(blockSums);");
            using (w.Block("for (int r = 0; r < y.Length; r++)"))
            {
                w.Line($"ref ushort w = ref {Unsafe}.Add(ref {Marshal}.GetReference(words), r * Vectors);");
                Accumulators(w, RowsUnroll);
                w.Line("var shifts = acc0;");
                if (groups > 0)
                    using (w.Block($"for (nuint v = 0; v < {I(groups * RowsUnroll)}; v += {I(RowsUnroll)})"))
                    {
                        w.Line($"shifts += {V256}.AsSingle({V256}.AsUInt32({V256}.LoadUnsafe(ref b, v)) ^ {Coded}.ShiftSignBits(ref {Unsafe}.Add(ref w, v)));");
                        for (int j = 0; j < RowsUnroll; j++)
                            w.Line(Fma(j, $"{Coded}.E8PUnshifted({Unsafe}.Add(ref w, {(j == 0 ? "v" : $"v + {I(j)}")}))", j == 0 ? "8 * v" : $"8 * v + {I(8 * j)}"));
                    }
                w.Line("float shifted = 0;");
                for (int v = groups * RowsUnroll; v < vectors; v++)
                {
                    w.Line(Fma(0, $"{Coded}.E8PUnshifted({Unsafe}.Add(ref w, {I(v)}))", I(8 * v)));
                    w.Line($"shifted += ({Unsafe}.Add(ref w, {I(v)}) & 1) != 0 ? -{Unsafe}.Add(ref b, {I(v)}) : {Unsafe}.Add(ref b, {I(v)});");
                }
                w.Line($"y[r] = {V256}.Sum({Tree(0, RowsUnroll)}) + 0.25f * ({V256}.Sum(shifts) + shifted);");
            }
        }
    }

    private static void Accumulators(CodeWriter w, int count)
    {
        w.Line($"var acc0 = {V256}.Create(0f);");
        for (int j = 1; j < count; j++) w.Line($"var acc{I(j)} = acc0;");
    }

    /// <summary>The pairwise sum of accumulators [first, first+count) as the generic kernels add them: ((a0 + a1) + (a2 + a3)) + ….</summary>
    private static string Tree(int first, int count) =>
        count == 1 ? $"acc{I(first)}" : count == 2 ? $"acc{I(first)} + acc{I(first + 1)}" : $"({Tree(first, count / 2)}) + ({Tree(first + count / 2, count / 2)})";

    /// <summary>acc_j = decoded·u[offset..offset+8) + acc_j.</summary>
    private static string Fma(int accumulator, string decoded, string offset) =>
        $"acc{I(accumulator)} = {V256}.FusedMultiplyAdd({decoded}, {V256}.LoadUnsafe(ref x, {offset}), acc{I(accumulator)});";

    /// <summary>The code vector at index <paramref name="v"/> (an expression of type nuint or a constant).</summary>
    private static string Decode(int wordsPerVector, string v) => wordsPerVector == 1
        ? $"{Coded}.E8P({Unsafe}.Add(ref w, {v}))"
        : $"{Coded}.Residual({Unsafe}.Add(ref w, {Twice(v)}), {Unsafe}.Add(ref w, {Twice(v)} + 1))";

    private static string Twice(string v) =>
        int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? I(2 * n) : v == "v" ? "2 * v" : $"2 * ({v})";

    /// <summary>
    /// z += a·(row segment of Lᵀ). The segment is a block of output rows whose length depends on how the worker pool
    /// splits the rows, so the vector count is not constant; blocks start at multiples of 8, and only the last block
    /// of a matrix whose row count is not a multiple of 8 ends in a partial vector, which the generic kernel finishes.
    /// </summary>
    private static void AddL(CodeWriter w, int rows)
    {
        bool partial = rows % 8 != 0;
        w.Line("// z[8v, 8v+8) += a·(C[w₂ᵥ] + C[w₂ᵥ₊₁]/ρ) over a block of output rows (a segment of a row of Lᵀ).");
        using (w.Block("public void AddL(global::System.ReadOnlySpan<ushort> words, float a, global::System.Span<float> z)"))
        {
            w.Line("int full = z.Length / 8;");
            w.Line(partial
                ? "if (words.Length != 2 * ((z.Length + 7) / 8))"
                : $"if (z.Length % 8 != 0 || words.Length != 2 * full)");
            w.Line(partial
                ? "    throw new global::System.ArgumentException($\"a segment of {z.Length} weights needs {2 * ((z.Length + 7) / 8)} code words, got {words.Length}\");"
                : $"    throw new global::System.ArgumentException($\"the rows of these {I(rows)}-row matrices come in whole code vectors; a segment of {{z.Length}} weights with {{words.Length}} code words is not one\");");
            w.Line($"ref ushort w = ref {Marshal}.GetReference(words);");
            w.Line($"ref float y = ref {Marshal}.GetReference(z);");
            w.Line($"var scale = {V256}.Create(a);");
            w.Line("nuint v = 0;");
            using (w.Block($"for (; v + {I(Unroll)} <= (nuint)full; v += {I(Unroll)})"))
                for (int j = 0; j < Unroll; j++)
                    w.Line(Axpy(j == 0 ? "v" : $"v + {I(j)}"));
            using (w.Block("for (; v < (nuint)full; v++)"))
                w.Line(Axpy("v"));
            if (partial)
            {
                w.Line("if (8 * full != z.Length)");
                w.Line("    CodedVectors.AddResidual(words.Slice(2 * full), a, z.Slice(8 * full));");
            }
        }
    }

    private static string Axpy(string v)
    {
        string at = v == "v" ? "8 * v" : $"8 * ({v})";
        return $"{V256}.StoreUnsafe({V256}.FusedMultiplyAdd({Decode(2, v)}, scale, {V256}.LoadUnsafe(ref y, {at})), ref y, {at});";
    }
}
