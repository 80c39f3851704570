namespace Caldera.Compiler.Evaluation;

/// <summary>
/// What <see cref="QualityEvaluator"/> measured over <see cref="ScoredTokens"/> predictions in
/// <see cref="Chunks"/> chunks. The reference-based numbers are null when no reference model was given.
/// </summary>
/// <param name="Perplexity">exp(mean −log p_model(next token)).</param>
/// <param name="PerplexityStandardError">ppl·σ(nll)/√N, llama.cpp's ± (the delta method).</param>
/// <param name="ReferencePerplexity">The reference model's perplexity on the same positions.</param>
/// <param name="MeanKlDivergence">mean over positions of KL(P_ref ‖ P_model) = Σ_v p_ref(v)·(log p_ref(v) − log p_model(v)), in nats.</param>
/// <param name="Top1Agreement">Fraction of positions where argmax P_model = argmax P_ref.</param>
internal sealed record QualityMetrics(
    double Perplexity,
    double PerplexityStandardError,
    double? ReferencePerplexity,
    double? MeanKlDivergence,
    double? Top1Agreement,
    int Chunks,
    int ContextLength,
    long ScoredTokens);
