namespace Caldera.Runtime.Sampling;

/// <summary>A candidate token and its probability, ordered most likely first (ties: lower id first, so the order is total and sampling deterministic).</summary>
internal readonly record struct TokenProbability(int Token, float Probability) : IComparable<TokenProbability>
{
    public int CompareTo(TokenProbability other)
    {
        int byProbability = other.Probability.CompareTo(Probability);
        return byProbability != 0 ? byProbability : Token.CompareTo(other.Token);
    }
}
