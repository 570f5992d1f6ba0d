namespace Functional.AD;

/// <summary>
/// Several axes of a reduction (numpy's <c>axis=(0, 2)</c>): <c>Np.Sum(x, Axes.Of(0, 2), false)</c>, inside and outside
/// expressions. Negative axes count from the end. A struct with no conversion from an array, so that
/// <c>Np.Sum(x, null, false)</c> (every axis) stays the single-axis overload's call.
/// </summary>
/// <example>
/// <code>
/// var x = Np.Ones([2, 3, 4]);
/// var s = Np.Sum(x, Axes.Of(0, 2), false);            // [8., 8., 8.]
/// var m = Np.Max(x, Axes.Of(-2, -1), true);           // the maximum of each matrix, shape [2, 1, 1]
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = v =&gt; Np.Var(v, Axes.Of(1, 2), false, 1);   // inside expressions too
/// </code>
/// </example>
public readonly struct Axes : IEquatable<Axes>
{
    readonly int[]? items;

    /// <summary>The axes <paramref name="axes"/> (copied).</summary>
    /// <param name="axes">The axes, negative ones counted from the end.</param>
    public Axes(params int[] axes) => items = axes is null ? throw new ArgumentNullException(nameof(axes)) : (int[])axes.Clone();

    /// <summary>The axes <paramref name="axes"/>. Example: <c>Axes.Of(0, 1)</c>.</summary>
    /// <param name="axes">The axes, negative ones counted from the end.</param><returns>The axes.</returns>
    public static Axes Of(params int[] axes) => new(axes);

    /// <summary>The axes as given.</summary>
    public IReadOnlyList<int> Items => items ?? [];

    /// <inheritdoc/>
    public bool Equals(Axes other) => Items.SequenceEqual(other.Items);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Axes a && Equals(a);
    /// <inheritdoc/>
    public override int GetHashCode() => Items.Aggregate(17, (h, a) => h * 31 + a);
    /// <summary>The axes as C# writes them: <c>Axes.Of(0, 1)</c>.</summary>
    public override string ToString() => $"Axes.Of({string.Join(", ", Items)})";
}
