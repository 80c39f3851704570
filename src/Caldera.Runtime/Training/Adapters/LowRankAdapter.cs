using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Training.Adapters;

/// <summary>
/// The product of fine-tuning: the trained top ranks of a compressed model's matrices, and with <c>--train-norms</c> its
/// RMSNorm gains, tied to that exact model by its <c>.cald</c> checksum, with the record of how they were trained. Saved
/// and loaded by <see cref="AdapterFile"/>.
/// </summary>
internal sealed record LowRankAdapter(ulong BaseChecksum, string BaseName, int Rank, IReadOnlyList<AdapterMatrix> Matrices, AdapterTraining Training)
{
    /// <summary>The trained gains, in <see cref="TrainableModel.Gains"/> order (empty unless the norms trained).</summary>
    public IReadOnlyList<AdapterGain> Gains { get; init; } = [];

    /// <summary>Copies of the current trained gains of <paramref name="model"/>.</summary>
    public static IReadOnlyList<AdapterGain> CaptureGains(TrainableModel model) =>
        model.TrainedGains.Select(g => new AdapterGain(g.Name, (float[])g.Values.Clone())).ToArray();

    /// <summary>
    /// The current trained factors of <paramref name="model"/> as its passes use them (copies): under quantisation-aware
    /// training the rounded ranks, which the merge stores exactly.
    /// </summary>
    public static IReadOnlyList<AdapterMatrix> Capture(TrainableModel model) => model.Trained
        .Select(l => new AdapterMatrix(l.Name, l.Rows, l.Columns, l.TrainedRank, (float[])l.ForwardLTransposed!.Values.Clone(), (float[])l.ForwardR!.Values.Clone()))
        .ToArray();

    /// <summary>
    /// Writes the factors into <paramref name="model"/>'s trained matrices, and the gains into its trained gains; both
    /// must have the same names and shapes.
    /// </summary>
    public void ApplyTo(TrainableModel model)
    {
        var (trained, matrices) = (model.Trained, Matrices);
        if (trained.Count != matrices.Count) throw new ArgumentException($"{matrices.Count} adapter matrices for {trained.Count} trained matrices");
        for (int i = 0; i < trained.Count; i++)
        {
            var (l, a) = (trained[i], matrices[i]);
            if (l.Name != a.Name || l.TrainedRank != a.Rank || l.Rows != a.Rows || l.Columns != a.Columns)
                throw new ArgumentException($"adapter matrix {a.Name} (rank {a.Rank}, {a.Rows}×{a.Columns}) does not fit {l.Name} (rank {l.TrainedRank}, {l.Rows}×{l.Columns})");
            a.LTransposed.CopyTo(l.LTransposed!.Values, 0);
            a.R.CopyTo(l.R!.Values, 0);
        }
        var gains = model.TrainedGains;
        if (gains.Count != Gains.Count) throw new ArgumentException($"{Gains.Count} adapter gains for {gains.Count} trained gains");
        for (int i = 0; i < gains.Count; i++)
        {
            if (gains[i].Name != Gains[i].Name || gains[i].Values.Length != Gains[i].Values.Length)
                throw new ArgumentException($"adapter gain {Gains[i].Name} ({Gains[i].Values.Length} values) does not fit {gains[i].Name} ({gains[i].Values.Length})");
            Gains[i].Values.CopyTo(gains[i].Values, 0);
        }
        model.RoundTrained();
    }
}
