using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Training.Adapters;

/// <summary>
/// The product of fine-tuning: the trained top ranks of a compressed model's matrices, tied to that exact model by its
/// <c>.cald</c> checksum, with the record of how they were trained. Saved and loaded by <see cref="AdapterFile"/>.
/// </summary>
internal sealed record LowRankAdapter(ulong BaseChecksum, string BaseName, int Rank, IReadOnlyList<AdapterMatrix> Matrices, AdapterTraining Training)
{
    /// <summary>
    /// The current trained factors of <paramref name="model"/> as its passes use them (copies): under quantisation-aware
    /// training the rounded ranks, which the merge stores exactly.
    /// </summary>
    public static IReadOnlyList<AdapterMatrix> Capture(TrainableModel model) => model.Trained
        .Select(l => new AdapterMatrix(l.Name, l.Rows, l.Columns, l.TrainedRank, (float[])l.ForwardLTransposed!.Values.Clone(), (float[])l.ForwardR!.Values.Clone()))
        .ToArray();

    /// <summary>Writes the factors into <paramref name="model"/>'s trained matrices, which must have the same names and shapes.</summary>
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
        model.RoundTrained();
    }
}
