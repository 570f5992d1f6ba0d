namespace Functional.AD;

public sealed partial class Tensor
{
    /// <summary>
    /// The part an index list selects, as a tensor (numpy's and JAX's <c>x[...]</c>): an <c>int</c> or a point
    /// <see cref="Ix"/> removes its axis, a range keeps it, and axes past the list are kept whole. Works eagerly and inside
    /// expressions, where it is differentiable (see <see cref="Lax.Index"/>). The element as a double is <see cref="Item"/>.
    /// </summary>
    /// <param name="index">One index per leading axis: ints (negative count from the end), <see cref="System.Index"/>,
    /// <see cref="System.Range"/> (captured from outside an expression), or <see cref="Ix"/> values.</param>
    /// <returns>The selected part, in this tensor's dtype.</returns>
    /// <exception cref="ShapeException">More indices than axes, or a position or bound outside its axis (never clamped).</exception>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; x[0, Ix.Range(1, 3)] * x[Ix.FromEnd(1), Ix.All];
    /// </code></example>
    [System.Runtime.CompilerServices.IndexerName("Slice")]
    public Tensor this[params Ix[] index] => Lax.Index(this, index);

    /// <summary>
    /// A functional update of the part an index list selects (JAX's <c>x.at[i]</c>): <c>x.At(i).Set(v)</c>,
    /// <c>.Add(v)</c>, <c>.Mul(v)</c>, <c>.Min(v)</c> and <c>.Max(v)</c> give a new tensor and leave x as it is. Works
    /// eagerly and inside expressions, where it is differentiable.
    /// </summary>
    /// <param name="index">The part, as for the indexer.</param>
    /// <returns>The update's builder.</returns>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor, Tensor&gt;&gt; f = (x, v) =&gt; x.At(0, Ix.Range(1, 3)).Set(v);
    /// </code></example>
    public IndexUpdate At(params Ix[] index) => new(this, index);
}

/// <summary>
/// The part of a tensor that <see cref="Tensor.At"/> selects, waiting for the update to apply (JAX's <c>x.at[i]</c>).
/// Each method returns a new tensor of x's shape and dtype; the value broadcasts to the part's shape and is converted
/// to x's dtype. Derivatives are JAX's: Set sends x's cotangent with the part zeroed and the part's cotangent to the
/// value; Add sends the whole cotangent to x and the part's to the value; Mul, Min and Max are the part combined
/// elementwise with the value and set back (<c>x.At(i).Set(x[i] * v)</c>), so they differentiate as that does (Min
/// and Max split ties evenly).
/// </summary>
/// <example><code>
/// var y = x.At(Ix.FromEnd(1)).Add(1.0);   // x with 1 added to its last row
/// </code></example>
public sealed class IndexUpdate
{
    internal IndexUpdate(Tensor x, Ix[] index)
    {
        ArgumentNullException.ThrowIfNull(index);
        X = x;
        Index = index;
    }

    /// <summary>The tensor updated.</summary>
    public Tensor X { get; }

    /// <summary>The part's indices.</summary>
    public IReadOnlyList<Ix> Index { get; }

    Ix[] Ixs => (Ix[])Index;

    /// <summary>x with the part replaced by <paramref name="value"/> (JAX's <c>.set</c>).</summary>
    /// <param name="value">The new values.</param><returns>The updated tensor.</returns>
    public Tensor Set(Tensor value) => Lax.IndexSet(X, value, Ixs);

    /// <summary>x with <paramref name="value"/> added to the part (JAX's <c>.add</c>).</summary>
    /// <param name="value">The values added.</param><returns>The updated tensor.</returns>
    public Tensor Add(Tensor value) => Lax.IndexAdd(X, value, Ixs);

    /// <summary>x with the part multiplied by <paramref name="value"/> (JAX's <c>.multiply</c>).</summary>
    /// <param name="value">The factors.</param><returns>The updated tensor.</returns>
    public Tensor Mul(Tensor value) => Lax.IndexSet(X, Np.Mul(Lax.Index(X, Ixs), value), Ixs);

    /// <summary>x with the part replaced by its minimum with <paramref name="value"/> (JAX's <c>.min</c>).</summary>
    /// <param name="value">The values.</param><returns>The updated tensor.</returns>
    public Tensor Min(Tensor value) => Lax.IndexSet(X, Np.Minimum(Lax.Index(X, Ixs), value), Ixs);

    /// <summary>x with the part replaced by its maximum with <paramref name="value"/> (JAX's <c>.max</c>).</summary>
    /// <param name="value">The values.</param><returns>The updated tensor.</returns>
    public Tensor Max(Tensor value) => Lax.IndexSet(X, Np.Maximum(Lax.Index(X, Ixs), value), Ixs);
}
