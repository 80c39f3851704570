using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// The three products of a linear layer's training step over a window of T tokens, on a <see cref="WorkerPool"/>.
/// Each splits its output so that no two items write the same element, and each element is summed in an order fixed by
/// the matrix alone (<see cref="FixedOrder"/>), so the results do not depend on the thread count:
///   <see cref="Multiply"/>            Y[t,i] = Σ_j M[i,j]·U[t,j]        items: blocks of rows of M (× spans of tokens when M has few)
///   <see cref="MultiplyTransposed"/>  X[t,j] += Σ_i M[i,j]·D[t,i]       items: fixed column chunks of M (coded Q decoded once per chunk)
///   <see cref="AddOuter"/>            G[i,:] += Σ_t A[t,i]·B[t,:]       items: rows of G
/// All arrays are row-major with one row per token.
/// </summary>
internal sealed class RowProducts(WorkerPool pool)
{
    /// <summary>Columns per item of <see cref="MultiplyTransposed"/>: the chunk of every row of M is decoded once into the worker's scratch (m × 64 floats).</summary>
    public const int ColumnChunk = 64;

    public WorkerPool Pool => pool;

    /// <summary>Y[t,i] = Σ_j M[i,j]·U[t,j] (or += when <paramref name="accumulate"/>)   U: T × n; Y: T × m.</summary>
    /// <remarks>
    /// Rows are decoded <see cref="RowBlock"/> at a time into the worker's scratch, and each group of four tokens meets
    /// all of them while its inputs are in cache (a window's U is megabytes: read once per row it would stream from
    /// memory for every row), six rows at a time (<see cref="FixedOrder.Dots6x4"/>). Every element is one
    /// <see cref="FixedOrder.Dot"/>, whichever tile computes it.
    /// </remarks>
    public void Multiply(RowMatrix m, float[] u, float[] y, int tokens, bool accumulate = false)
    {
        if (tokens <= 0) return;
        int rows = m.Rows, n = m.Columns, blocks = (rows + RowBlock - 1) / RowBlock;
        // A matrix of a few row blocks (the trained ranks' 16 rows are one) also splits the window, so that every thread
        // has work; a split costs one more decoding of the block, which many blocks do not need.
        int spans = blocks >= MinimumBlocks ? 1 : TokenSpans, span = ((tokens + 3) / 4 + spans - 1) / spans * 4;
        spans = (tokens + span - 1) / span;
        ParallelLoop.For(pool, blocks * spans, (long)n * span * RowBlock, (item, worker) =>
        {
            int first = item / spans * RowBlock, count = Math.Min(RowBlock, rows - first);
            int from = item % spans * span, to = Math.Min(tokens, from + span);
            var block = pool.Scratch(worker, count * n);
            for (int r = 0; r < count; r++)
            {
                var target = block.Slice(r * n, n);
                var row = m.Row(first + r, target);
                if (row != target) row.CopyTo(target);
            }
            Span<float> tile = stackalloc float[24];
            int t = from;
            for (; t + 4 <= to; t += 4)
            {
                var group = u.AsSpan(t * n, 4 * n);
                int r = 0;
                for (; r + 6 <= count; r += 6)
                {
                    FixedOrder.Dots6x4(block.Slice(r * n, 6 * n), n, group, n, n, tile);
                    StoreTile(t, first + r, 6, tile);
                }
                for (; r + 4 <= count; r += 4)
                {
                    FixedOrder.Dots4x4(block.Slice(r * n, 4 * n), group, n, tile);
                    StoreTile(t, first + r, 4, tile);
                }
                for (; r < count; r++)
                    for (int k = 0; k < 4; k++) Store(t + k, first + r, FixedOrder.Dot(block.Slice(r * n, n), u.AsSpan((t + k) * n, n)));
            }
            for (; t < to; t++)
                for (int r = 0; r < count; r++) Store(t, first + r, FixedOrder.Dot(block.Slice(r * n, n), u.AsSpan(t * n, n)));
        });

        void StoreTile(int t, int i, int tileRows, ReadOnlySpan<float> tile)
        {
            for (int r = 0; r < tileRows; r++)
                for (int k = 0; k < 4; k++) Store(t + k, i + r, tile[4 * r + k]);
        }

        void Store(int token, int i, float d) => y[token * rows + i] = accumulate ? y[token * rows + i] + d : d;
    }

    /// <summary>Rows of M per item of <see cref="Multiply"/>, three 6 × 4 tiles: eighteen rows of 5632 floats are 396 KiB of scratch.</summary>
    private const int RowBlock = 18;

    /// <summary>Row blocks below which <see cref="Multiply"/> also splits the tokens, into <see cref="TokenSpans"/> spans (of whole groups of four).</summary>
    private const int MinimumBlocks = 8, TokenSpans = 8;

    /// <summary>X[t,j] += Σ_i M[i,j]·D[t,i]   D: T × m; X: T × n. Rows are taken in order 0..m−1 for every element.</summary>
    /// <remarks>
    /// A chunk's segments of every row are decoded once into the worker's scratch; then <see cref="WeightedRowSums"/>
    /// runs the chunk's columns for every token, each element a chain over i in order, skipping D[t,i] = 0.
    /// </remarks>
    public void MultiplyTransposed(RowMatrix m, float[] d, float[] x, int tokens)
    {
        int rows = m.Rows, n = m.Columns, chunks = (n + ColumnChunk - 1) / ColumnChunk;
        ParallelLoop.For(pool, chunks, (long)rows * ColumnChunk * tokens, (chunk, worker) =>
        {
            int start = chunk * ColumnChunk, length = Math.Min(ColumnChunk, n - start);
            var block = pool.Scratch(worker, rows * ColumnChunk);
            for (int i = 0; i < rows; i++)
            {
                var target = block.Slice(i * ColumnChunk, length);
                var segment = m.Segment(i, start, length, target);
                if (segment != target) segment.CopyTo(target);
            }
            // Rows in blocks that stay in L1 while every token passes; each element still takes rows 0..m−1 in order.
            for (int first = 0; first < rows; first += TransposedRowBlock)
                WeightedRowSums.Add(block[(first * ColumnChunk)..], ColumnChunk, Math.Min(TransposedRowBlock, rows - first),
                    d.AsSpan(first), rows, x.AsSpan(start), n, tokens, length);
        });
    }

    /// <summary>Rows of a decoded chunk per pass over the tokens: 128 × 64 floats are 32 KiB, within L1.</summary>
    private const int TransposedRowBlock = 128;

    /// <summary>G[i,:] += Σ_t A[t,i]·B[t,:]   G: m × n; A: T × m; B: T × n. Tokens are taken in order for every element.</summary>
    public void AddOuter(float[] g, int rows, int columns, float[] a, float[] b, int tokens)
    {
        ParallelLoop.For(pool, rows, (long)columns * tokens, (i, _) =>
        {
            var gi = g.AsSpan(i * columns, columns);
            for (int t = 0; t < tokens; t++)
            {
                float s = a[t * rows + i];
                if (s != 0) FixedOrder.AddScaled(gi, s, b.AsSpan(t * columns, columns));
            }
        });
    }
}
