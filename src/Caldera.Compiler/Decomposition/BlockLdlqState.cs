using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// What BlockLDLQ's passes share: B (m×n), the rounded Q̂ (m×n) and its codes, and the residual E = B − Q̂ padded
/// to n' columns (m×n', zero in the pad), which the feedback and G = E·H are computed from.
/// </summary>
/// <param name="residual">Storage for E (m×n', any contents: it is cleared here).</param>
internal sealed class BlockLdlqState(Matrix<float> b, Matrix<float> rounded, ushort[] codes, int wordsPerRow,
    ILatticeCodebook codebook, int padded, float[] residual)
{
    public int Rows => b.Rows;
    public int Columns => b.Cols;
    public int Padded => padded;
    public int WordsPerVector => codebook.WordsPerVector;

    /// <summary>E, m×n' row-major.</summary>
    public float[] Residual { get; } = Cleared(residual, (long)b.Rows * padded);

    public Matrix<float> B => b;

    private static float[] Cleared(float[] storage, long length)
    {
        if (storage.LongLength != length) throw new ArgumentException($"E needs {length} elements; the storage has {storage.LongLength}.", nameof(storage));
        Array.Clear(storage);
        return storage;
    }
    public Matrix<float> Rounded => rounded;

    /// <summary>
    /// Rounds block j of rows [r0, r0 + rows) to the nearest codewords of <paramref name="targets"/> (rows×8): stores
    /// the codes, Q̂ and E = B − Q̂, and writes Q̂_new − Q̂_old per coordinate to <paramref name="deltas"/> (rows×8,
    /// zero where nothing changed) unless it is empty.
    /// </summary>
    /// <param name="q">Scratch, rows×8.</param>
    /// <param name="words">Scratch, rows × words per vector.</param>
    public void RoundBlock(int j, int r0, int rows, ReadOnlySpan<float> targets, Span<float> deltas, Span<float> q, Span<ushort> words)
    {
        Span<int> indices = stackalloc int[rows];
        for (int i = 0; i < rows; i++) indices[i] = r0 + i;
        RoundBlock(j, indices, targets, deltas, q, words, certificates: default);
    }

    /// <summary>
    /// <see cref="RoundBlock(int, int, int, ReadOnlySpan{float}, Span{float}, Span{float}, Span{ushort})"/> for the listed
    /// rows (target i belongs to row rows[i]); with <paramref name="certificates"/> (a full block only) it also writes
    /// each target's <see cref="SearchCertificate"/> (<see cref="ILatticeCodebook.QuantizeCertified"/>).
    /// </summary>
    public void RoundBlock(int j, ReadOnlySpan<int> rows, ReadOnlySpan<float> targets, Span<float> deltas, Span<float> q,
        Span<ushort> words, Span<SearchCertificate> certificates)
    {
        const int Block = BlockLdlq.Block;
        int c0 = j * Block, width = Math.Min(Block, Columns - c0), perVector = codebook.WordsPerVector, count = rows.Length;
        if (!certificates.IsEmpty)
            codebook.QuantizeCertified(targets[..(count * Block)], q[..(count * Block)], words[..(count * perVector)], certificates);
        else if (width == Block)
            codebook.QuantizeRow(targets[..(count * Block)], q[..(count * Block)], words[..(count * perVector)]);
        else
            for (int i = 0; i < count; i++)
                codebook.QuantizeRow(targets.Slice(i * Block, width), q.Slice(i * Block, width), words.Slice(i * perVector, perVector));

        if (!deltas.IsEmpty) deltas[..(count * Block)].Clear();
        for (int i = 0; i < count; i++)
        {
            int r = rows[i];
            words.Slice(i * perVector, perVector).CopyTo(codes.AsSpan(r * wordsPerRow + j * perVector, perVector));
            var qRow = rounded.Row(r).Slice(c0, width);
            var bRow = b.Row(r).Slice(c0, width);
            var eRow = Residual.AsSpan(r * padded + c0, width);
            for (int c = 0; c < width; c++)
            {
                float qc = q[i * Block + c], delta = qc - qRow[c];
                if (!deltas.IsEmpty) deltas[i * Block + c] = delta;
                if (delta == 0) continue;
                qRow[c] = qc;
                eRow[c] = bRow[c] - qc;
            }
        }
    }
}
