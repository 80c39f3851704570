using Caldera.Runtime.Model;

namespace Caldera.Runtime.Training.Adapters;

/// <summary>A trained RMSNorm gain (<c>caldera finetune --train-norms</c>): it replaces the base model's tensor of the same name.</summary>
internal sealed record AdapterGain(string Name, float[] Values)
{
    public string? FindProblem()
    {
        if (Values.Length < 1) return $"{Name}: an empty gain";
        foreach (float v in Values) if (!float.IsFinite(v)) return $"{Name}: the gain holds {v}";
        return null;
    }

    /// <summary>
    /// What keeps this gain from replacing a model's tensor of its name (null if it fits): the model must have such a norm,
    /// and its width must be the gain's length.
    /// </summary>
    public string? FindMismatch(LlamaConfig config)
    {
        bool isNorm = Name == TensorNames.OutputNorm
            || Enumerable.Range(0, config.LayerCount).Any(l => Name == TensorNames.AttentionNorm(l) || Name == TensorNames.FfnNorm(l));
        if (!isNorm) return $"the adapter trains a norm gain {Name}, which the model does not have";
        if (Values.Length != config.Dim) return $"the adapter's norm gain {Name} has {Values.Length} values, the model's width is {config.Dim}";
        return null;
    }
}
