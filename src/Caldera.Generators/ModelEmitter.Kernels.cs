using System.Globalization;

namespace Caldera.Generators;

/// <summary>
/// The shape-specialised row kernels. A row of n = 8·V weights is V code vectors, each decoded into one Vector256 by
/// <c>CodedVectors</c>; the emitter knows V, so a dot product is a loop of V/4 rounds over four independent
/// accumulators (hiding the FMA latency) followed by the V mod 4 leftover vectors written out, all with constant
/// bounds and a single length check up front.
/// </summary>
internal static partial class ModelEmitter
{
    /// <summary>Independent accumulators per round: enough to cover the FMA latency on current x64 cores.</summary>
    private const int Unroll = 4;

    // Short names for the kernel primitives, bound by file-level aliases (see KernelAliases) so the kernels read as hand-written code.
    private const string V256 = "Vector256";
    private const string Coded = "CodedVectors";
    private const string Unsafe = "Unsafe";
    private const string Marshal = "MemoryMarshal";

    /// <summary>The using aliases the kernels' short names rely on; file-scoped, so they touch no user code.</summary>
    private static readonly string[] KernelAliases =
    {
        "using CodedVectors = global::Caldera.Runtime.Kernels.CodedVectors;",
        "using MemoryMarshal = global::System.Runtime.InteropServices.MemoryMarshal;",
        "using Unsafe = global::System.Runtime.CompilerServices.Unsafe;",
        "using Vector256 = global::System.Runtime.Intrinsics.Vector256;",
    };

    private static void Kernels(CodeWriter w, KernelShape k)
    {
        int vectors = k.Columns / 8;
        w.Line();
        w.Line($"/// <summary>Row kernels for {I(k.Rows)}×{I(k.Columns)} matrices of rank {I(k.Rank)}: rows of {I(vectors)} code vectors.</summary>");
        using (w.Block($"private sealed class {k.ClassName} : {Inference}.ICompressedRowKernels"))
        {
            w.Line($"public static readonly {k.ClassName} Instance = new {k.ClassName}();");
            w.Line();
            w.Line($"private const int Columns = {I(k.Columns)};");
            w.Line($"private const int Vectors = {I(vectors)};");
            w.Line();
            w.Line($"// Σ_v ⟨C[w_v], u[8v, 8v+8)⟩ over the {I(vectors)} E8P code vectors of a row of Q.");
            Dot(w, "DotQ", vectors, wordsPerVector: 1);
            w.Line();
            w.Line($"// Σ_v ⟨C[w₂ᵥ] + C[w₂ᵥ₊₁]/ρ, u[8v, 8v+8)⟩ over the {I(vectors)} residual code vectors of a row of R.");
            Dot(w, "DotR", vectors, wordsPerVector: 2);
            w.Line();
            AddL(w, k.Rows);
        }
    }

    private static void Dot(CodeWriter w, string name, int vectors, int wordsPerVector)
    {
        using (w.Block($"public float {name}(global::System.ReadOnlySpan<ushort> words, global::System.ReadOnlySpan<float> u)"))
        {
            string words = wordsPerVector == 1 ? "Vectors" : "2 * Vectors";
            w.Line($"if (words.Length != {words} || u.Length != Columns)");
            w.Line($"    throw new global::System.ArgumentException($\"a row of {{Columns}} weights needs {{{words}}} code words and {{Columns}} inputs, got {{words.Length}} and {{u.Length}}\");");
            w.Line($"ref ushort w = ref {Marshal}.GetReference(words);");
            w.Line($"ref float x = ref {Marshal}.GetReference(u);");
            w.Line($"var acc0 = {V256}.Create(0f);");
            w.Line("var acc1 = acc0;");
            w.Line("var acc2 = acc0;");
            w.Line("var acc3 = acc0;");
            int rounds = vectors / Unroll;
            if (rounds > 0)
                using (w.Block($"for (nuint v = 0; v < {I(rounds * Unroll)}; v += {I(Unroll)})"))
                    for (int j = 0; j < Unroll; j++)
                        w.Line(Fma(j, Decode(wordsPerVector, j == 0 ? "v" : $"v + {I(j)}"), j == 0 ? "8 * v" : $"8 * v + {I(8 * j)}"));
            for (int v = rounds * Unroll; v < vectors; v++)
                w.Line(Fma(v - rounds * Unroll, Decode(wordsPerVector, I(v)), I(8 * v)));
            w.Line($"return {V256}.Sum((acc0 + acc1) + (acc2 + acc3));");
        }
    }

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
                w.Line("    global::Caldera.Runtime.Kernels.CodedRows.AddResidual(words.Slice(2 * full), a, z.Slice(8 * full));");
            }
        }
    }

    private static string Axpy(string v)
    {
        string at = v == "v" ? "8 * v" : $"8 * ({v})";
        return $"{V256}.StoreUnsafe({V256}.FusedMultiplyAdd({Decode(2, v)}, scale, {V256}.LoadUnsafe(ref y, {at})), ref y, {at});";
    }
}
