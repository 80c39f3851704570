using System.Runtime.Intrinsics;
using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// The three products of a linear layer's training step over a window of T tokens, on a <see cref="WorkerPool"/>.
/// Each splits its output so that no two items write the same element, and each element is summed in an order fixed by
/// the matrix alone (<see cref="FixedOrder"/>), so the results do not depend on the thread count:
///   <see cref="Multiply"/>            Y[t,i] = Σ_j M[i,j]·U[t,j]        items: rows of M
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
    /// memory for every row). Every element is one <see cref="FixedOrder.Dot"/>, whichever group computes it.
    /// </remarks>
    public void Multiply(RowMatrix m, float[] u, float[] y, int tokens, bool accumulate = false)
    {
        int rows = m.Rows, n = m.Columns;
        ParallelLoop.For(pool, (rows + RowBlock - 1) / RowBlock, (long)n * tokens * RowBlock, (item, worker) =>
        {
            int first = item * RowBlock, count = Math.Min(RowBlock, rows - first);
            var block = pool.Scratch(worker, count * n);
            for (int r = 0; r < count; r++)
            {
                var target = block.Slice(r * n, n);
                var row = m.Row(first + r, target);
                if (row != target) row.CopyTo(target);
            }
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
                for (int r = 0; r < count; r++)
                {
                    var (d0, d1, d2, d3) = FixedOrder.Dot4(block.Slice(r * n, n), u.AsSpan(t * n, n), u.AsSpan((t + 1) * n, n), u.AsSpan((t + 2) * n, n), u.AsSpan((t + 3) * n, n));
                    Store(t, first + r, d0);
                    Store(t + 1, first + r, d1);
                    Store(t + 2, first + r, d2);
                    Store(t + 3, first + r, d3);
                }
            for (; t < tokens; t++)
                for (int r = 0; r < count; r++) Store(t, first + r, FixedOrder.Dot(block.Slice(r * n, n), u.AsSpan(t * n, n)));
        });

        void Store(int token, int i, float d) => y[token * rows + i] = accumulate ? y[token * rows + i] + d : d;
    }

    /// <summary>Rows of M per item of <see cref="Multiply"/>: sixteen rows of 5632 floats are 352 KiB of scratch.</summary>
    private const int RowBlock = 16;

    /// <summary>X[t,j] += Σ_i M[i,j]·D[t,i]   D: T × m; X: T × n. Rows are taken in order 0..m−1 for every element.</summary>
    /// <remarks>
    /// A chunk's segments of every row are decoded once into the worker's scratch; then tiles of four tokens × 32
    /// columns keep their sums in registers while every row passes. Each element still takes x + s_i·M[i,j] for i in
    /// order, skipping s_i = 0, one multiply and one add each, as <see cref="FixedOrder.AddScaled"/> does.
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
            int t = 0, tiled = length / TileColumns * TileColumns;
            for (; t + TileTokens <= tokens; t += TileTokens)
            {
                for (int j = 0; j < tiled; j += TileColumns) AddTile(block, rows, d, x, t, n, start, j);
                for (int k = 0; k < TileTokens; k++) AddColumns(block, rows, d, x, t + k, n, start, tiled, length);
            }
            for (; t < tokens; t++) AddColumns(block, rows, d, x, t, n, start, 0, length);
        });
    }

    private const int TileTokens = 4, TileColumns = 32;

    /// <summary>X[t..t+3, start+j .. start+j+31] += Σ_i block[i, j..j+31]·D[t.., i], the sixteen vectors in registers.</summary>
    private static unsafe void AddTile(Span<float> block, int rows, float[] d, float[] x, int t, int n, int start, int j)
    {
        fixed (float* b = block, pd = d, px = x)
        {
            float* x0 = px + (long)t * n + start + j, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n;
            float* d0 = pd + (long)t * rows, d1 = d0 + rows, d2 = d1 + rows, d3 = d2 + rows;
            Vector256<float> a00 = Vector256.Load(x0), a01 = Vector256.Load(x0 + 8), a02 = Vector256.Load(x0 + 16), a03 = Vector256.Load(x0 + 24);
            Vector256<float> a10 = Vector256.Load(x1), a11 = Vector256.Load(x1 + 8), a12 = Vector256.Load(x1 + 16), a13 = Vector256.Load(x1 + 24);
            Vector256<float> a20 = Vector256.Load(x2), a21 = Vector256.Load(x2 + 8), a22 = Vector256.Load(x2 + 16), a23 = Vector256.Load(x2 + 24);
            Vector256<float> a30 = Vector256.Load(x3), a31 = Vector256.Load(x3 + 8), a32 = Vector256.Load(x3 + 16), a33 = Vector256.Load(x3 + 24);
            for (int i = 0; i < rows; i++)
            {
                float* row = b + (long)i * ColumnChunk + j;
                var m0 = Vector256.Load(row);
                var m1 = Vector256.Load(row + 8);
                var m2 = Vector256.Load(row + 16);
                var m3 = Vector256.Load(row + 24);
                if (d0[i] is var s0 && s0 != 0)
                {
                    var s = Vector256.Create(s0);
                    a00 += s * m0; a01 += s * m1; a02 += s * m2; a03 += s * m3;
                }
                if (d1[i] is var s1 && s1 != 0)
                {
                    var s = Vector256.Create(s1);
                    a10 += s * m0; a11 += s * m1; a12 += s * m2; a13 += s * m3;
                }
                if (d2[i] is var s2 && s2 != 0)
                {
                    var s = Vector256.Create(s2);
                    a20 += s * m0; a21 += s * m1; a22 += s * m2; a23 += s * m3;
                }
                if (d3[i] is var s3 && s3 != 0)
                {
                    var s = Vector256.Create(s3);
                    a30 += s * m0; a31 += s * m1; a32 += s * m2; a33 += s * m3;
                }
            }
            a00.Store(x0); a01.Store(x0 + 8); a02.Store(x0 + 16); a03.Store(x0 + 24);
            a10.Store(x1); a11.Store(x1 + 8); a12.Store(x1 + 16); a13.Store(x1 + 24);
            a20.Store(x2); a21.Store(x2 + 8); a22.Store(x2 + 16); a23.Store(x2 + 24);
            a30.Store(x3); a31.Store(x3 + 8); a32.Store(x3 + 16); a33.Store(x3 + 24);
        }
    }

    /// <summary>Columns [from, length) of the chunk for token t, a row at a time (the columns no tile covers).</summary>
    private static void AddColumns(Span<float> block, int rows, float[] d, float[] x, int t, int n, int start, int from, int length)
    {
        if (from >= length) return;
        var target = x.AsSpan(t * n + start + from, length - from);
        for (int i = 0; i < rows; i++)
        {
            float s = d[t * rows + i];
            if (s != 0) FixedOrder.AddScaled(target, s, block.Slice(i * ColumnChunk + from, length - from));
        }
    }

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
