using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Kernels;
using Caldera.Runtime.Training.Arithmetic;
using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Tests.Training;

/// <summary>
/// Attention's sums, taken four tokens or positions at a time in registers, equal bit for bit the term-by-term loops
/// that define their order (each term one fused multiply-add into the element, p or (t, h) in order), at head widths
/// that take the tiles (64, 128) and those that do not, with grouped heads, windows that are not a multiple of four,
/// at 1 and 2 threads.
/// </summary>
public class CausalAttentionTests
{
    [Fact]
    public void Strided_row_sums_equal_the_term_by_term_chain_bit_for_bit_on_every_path()
    {
        var random = new Random(41);
        foreach (var path in (KernelPath[])[KernelPath.Scalar, .. KernelData.VectorPaths])
            foreach (int columns in new[] { 1, 3, 4, 8, 15, 16, 17, 63, 64, 65, 128, 172 })
                foreach (int outputs in new[] { 1, 2, 3, 4 })
                    foreach (var (outer, inner) in new[] { (1, 1), (5, 1), (3, 2), (9, 4) })
                    {
                        // Strides as attention has them: rows picked by (outer, inner), outputs' weights interleaved or apart.
                        int mInner = columns + 2, mOuter = inner * mInner + 5, cInner = 7, cOutput = outputs > 1 && outer % 2 == 0 ? 1 : 3;
                        int cOuter = inner * cInner + outputs * cOutput + 1, yStride = columns + 4;
                        float[] c = Values(random, outer * cOuter), m = Values(random, outer * mOuter), y = Values(random, outputs * yStride);
                        for (int i = 0; i < c.Length; i += 4) c[i] = 0; // zero terms, as P and dS hold past t
                        var expected = (float[])y.Clone();
                        for (int k = 0; k < outputs; k++)
                            for (int j = 0; j < columns; j++)
                                for (int a = 0; a < outer; a++)
                                    for (int b = 0; b < inner; b++)
                                        expected[k * yStride + j] = MathF.FusedMultiplyAdd(c[a * cOuter + b * cInner + k * cOutput],
                                            m[a * mOuter + b * mInner + j], expected[k * yStride + j]);
                        StridedRowSums.Add(c, cOuter, cInner, cOutput, m, mOuter, mInner, outer, inner, y, yStride, outputs, columns, path);
                        Assert.True(expected.AsSpan().SequenceEqual(y), $"{path}: {outputs} outputs × {columns} columns, {outer}×{inner} terms");
                    }
    }

    [Theory]
    [InlineData(64, 1)]
    [InlineData(64, 2)]
    [InlineData(128, 2)]
    [InlineData(8, 2)]
    public void Forward_and_backward_equal_the_term_by_term_loops_bit_for_bit(int headDim, int threads)
    {
        var config = new LlamaConfig
        {
            Dim = 4 * headDim, HiddenDim = 8, LayerCount = 1, HeadCount = 4, KvHeadCount = 2, HeadDim = headDim, VocabSize = 8, ContextLength = 16,
        };
        using var pool = new WorkerPool(threads);
        var attention = new CausalAttention(config, new RowProducts(pool), 16);
        var random = new Random(43 + headDim);
        foreach (int tokens in new[] { 16, 11, 3, 4, 1, 13 })
        {
            int qDim = config.QDim, kvDim = config.KvDim;
            float[] q = Values(random, tokens * qDim), k = Values(random, tokens * kvDim), v = Values(random, tokens * kvDim), dO = Values(random, tokens * qDim);
            var (o, dq, dk, dv) = Reference(config, q, k, v, dO, tokens);
            var actual = new float[tokens * qDim];
            attention.Forward(q, k, v, actual, tokens);
            Assert.True(o.AsSpan().SequenceEqual(actual), $"o, head width {headDim}, {tokens} tokens");
            float[] aq = new float[tokens * qDim], ak = new float[tokens * kvDim], av = new float[tokens * kvDim];
            attention.Backward(q, k, v, dO, aq, ak, av, tokens);
            Assert.True(dq.AsSpan().SequenceEqual(aq), $"dq, head width {headDim}, {tokens} tokens");
            Assert.True(dk.AsSpan().SequenceEqual(ak), $"dk, head width {headDim}, {tokens} tokens");
            Assert.True(dv.AsSpan().SequenceEqual(av), $"dv, head width {headDim}, {tokens} tokens");
        }
    }

    // The definition, one (token, head) and one term at a time: softmax of c·q·k_p in order, then each sum a chain of fused multiply-adds.
    private static (float[] O, float[] Dq, float[] Dk, float[] Dv) Reference(LlamaConfig config, float[] q, float[] k, float[] v, float[] dO, int tokens)
    {
        int hd = config.HeadDim, heads = config.HeadCount, group = heads / config.KvHeadCount, qDim = config.QDim, kvDim = config.KvDim;
        float c = 1f / MathF.Sqrt(hd);
        var p = new float[tokens, heads, tokens];
        var ds = new float[tokens, heads, tokens];
        float[] o = new float[tokens * qDim], dq = new float[tokens * qDim], dk = new float[tokens * kvDim], dv = new float[tokens * kvDim];
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < heads; h++)
            {
                int kv = h / group * hd;
                float max = float.NegativeInfinity, sum = 0, weighted = 0;
                for (int s = 0; s <= t; s++) max = MathF.Max(max, p[t, h, s] = c * FixedOrder.Dot(q.AsSpan(t * qDim + h * hd, hd), k.AsSpan(s * kvDim + kv, hd)));
                for (int s = 0; s <= t; s++) sum += p[t, h, s] = MathF.Exp(p[t, h, s] - max);
                for (int s = 0; s <= t; s++) p[t, h, s] /= sum;
                for (int s = 0; s <= t; s++)
                {
                    ds[t, h, s] = FixedOrder.Dot(dO.AsSpan(t * qDim + h * hd, hd), v.AsSpan(s * kvDim + kv, hd));
                    weighted += p[t, h, s] * ds[t, h, s];
                }
                for (int s = 0; s <= t; s++) ds[t, h, s] = c * (p[t, h, s] * (ds[t, h, s] - weighted));
                for (int j = 0; j < hd; j++)
                    for (int s = 0; s <= t; s++)
                    {
                        o[t * qDim + h * hd + j] = MathF.FusedMultiplyAdd(p[t, h, s], v[s * kvDim + kv + j], o[t * qDim + h * hd + j]);
                        dq[t * qDim + h * hd + j] = MathF.FusedMultiplyAdd(ds[t, h, s], k[s * kvDim + kv + j], dq[t * qDim + h * hd + j]);
                    }
            }
        for (int s = 0; s < tokens; s++)
            for (int g = 0; g < heads / group; g++)
                for (int j = 0; j < hd; j++)
                    for (int t = s; t < tokens; t++)
                        for (int h = g * group; h < (g + 1) * group; h++)
                        {
                            dk[s * kvDim + g * hd + j] = MathF.FusedMultiplyAdd(ds[t, h, s], q[t * qDim + h * hd + j], dk[s * kvDim + g * hd + j]);
                            dv[s * kvDim + g * hd + j] = MathF.FusedMultiplyAdd(p[t, h, s], dO[t * qDim + h * hd + j], dv[s * kvDim + g * hd + j]);
                        }
        return (o, dq, dk, dv);
    }

    private static float[] Values(Random random, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-2, 3))))];
}
