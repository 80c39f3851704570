using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Adapters;

namespace Caldera.Compiler.Adapters;

/// <summary>
/// Folds an adapter's trained ranks back into a compressed model: ranks 0..r−1 of each trained matrix's Lᵀ and R are
/// replaced by the adapter's, quantized as the factors are stored (4-bit residual E8P codes at the factor's existing
/// scale, <see cref="FactorRequantization"/>, or halves), so the merged model runs without the adapter at the model's own
/// bits per weight. The rounding is a quality cost of its own, which <c>caldera eval</c> of the merged file against the
/// adapter measures; an adapter trained quantisation-aware holds ranks on the grid already, and merges without that cost.
/// Trained norm gains replace the base's tensors of their names, stored as F32 (as the compressor stores norms), so they
/// are written bit for bit.
/// </summary>
internal static class AdapterMerge
{
    public static CompressedModelContent Merge(CompressedModelContent content, LowRankAdapter adapter)
    {
        var trained = adapter.Matrices.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var matrices = content.Matrices.Select(m => trained.TryGetValue(m.Name, out var a) ? Merge(m, a) : m).ToArray();
        if (matrices.Count(m => trained.ContainsKey(m.Name)) != trained.Count)
            throw new ArgumentException("the adapter trains matrices the model does not compress", nameof(adapter));
        foreach (var g in adapter.Gains)
            if (g.FindMismatch(content.Config) is { } problem) throw new ArgumentException(problem, nameof(adapter));
        var gains = adapter.Gains.ToDictionary(g => g.Name, StringComparer.Ordinal);
        var dense = content.DenseTensors.Select(d => gains.TryGetValue(d.Name, out var g) ? Gain(d, g) : d).ToArray();
        return content with { Matrices = matrices, DenseTensors = dense };
    }

    // The trained gain as an F32 tensor of the base's name and shape.
    private static DenseTensorData Gain(DenseTensorData data, AdapterGain gain)
    {
        if (data.Shape is not [long length] || length != gain.Values.Length)
            throw new ArgumentException($"adapter gain {gain.Name} ({gain.Values.Length} values) does not fit {data.Name} [{string.Join(", ", data.Shape)}]");
        return data with { Type = TensorType.F32, Data = MemoryMarshal.AsBytes(gain.Values.AsSpan()).ToArray() };
    }

    private static CompressedLinearData Merge(CompressedLinearData data, AdapterMatrix adapter)
    {
        int m = data.Rows, n = data.Columns, k = data.Rank, r = adapter.Rank;
        if (adapter.Rows != m || adapter.Columns != n || r > k)
            throw new ArgumentException($"adapter matrix {adapter.Name} ({adapter.Rows}×{adapter.Columns}, rank {r}) does not fit {data.Name} ({m}×{n}, rank {k})");
        if (data.FactorBits == 4)
            return data with
            {
                LTransposedCodes = FactorRequantization.Requantize(data.LTransposedCodes, adapter.LTransposed, r, m, data.LTransposedScale),
                RCodes = FactorRequantization.Requantize(data.RCodes, adapter.R, r, n, data.RScale),
            };
        var l = data.L.ToArray();
        var rf = data.R.ToArray();
        for (int j = 0; j < r; j++)
        {
            for (int i = 0; i < m; i++) l[i * k + j] = (Half)adapter.LTransposed[j * m + i];
            for (int e = 0; e < n; e++) rf[j * n + e] = (Half)adapter.R[j * n + e];
        }
        return data with { L = l, R = rf };
    }
}
