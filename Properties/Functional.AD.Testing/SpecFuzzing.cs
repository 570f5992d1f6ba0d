using System.Linq.Expressions;

namespace Functional.AD.Testing;

/// <summary>How the random-program generator (<see cref="Programs.ProgramGen"/>) uses a spec.</summary>
/// <example><code>
/// // a spec line may say its family instead of having it inferred
/// var spec = new PrimitiveSpec { Name = "Tanh", Function = (Expression&lt;Func&lt;Tensor, Tensor&gt;&gt;)(x =&gt; Np.Tanh(x)),
///                                Inputs = t =&gt; Gens.Tensor(t).Select(x =&gt; new[] { x }), Family = SpecFamily.Elementwise };
/// </code></example>
public enum SpecFamily
{
    /// <summary>Inferred as none of the shape-generic families: generated as <see cref="FixedShapes"/>.</summary>
    None,
    /// <summary>Elementwise over one to three tensors with numpy broadcasting: the output is shaped like the broadcast operands.</summary>
    Elementwise,
    /// <summary><c>f(x, int? axis, bool keepdims)</c> (Sum, Mean, Max, ...): the generator picks the axis (or null, every axis) and keepdims.</summary>
    Reduction,
    /// <summary><c>f(x, int axis)</c> shaped like <c>x</c> (Softmax, ...): the generator picks the axis.</summary>
    AlongAxis,
    /// <summary>
    /// Any other function (contractions, indexing, shape, cumulative and sorting operations, ...): applied to operands of
    /// exactly the shapes of the spec's own inputs, giving the shape its function gives on them; the generator makes each
    /// operand from other terms by its structural ops and brings the result to the shape it needs by a reshape or a gather.
    /// </summary>
    FixedShapes,
}

/// <summary>
/// What the random-program generator needs to know about a spec. Every property has a default inferred from
/// <see cref="Function"/> and <see cref="Inputs"/> (see <c>Programs.SpecOps</c>), so a spec line of an elementwise
/// function or a reduction is fuzzed in random programs without further edits; set a property only to override it.
/// </summary>
public sealed partial class PrimitiveSpec
{
    /// <summary>
    /// How the fuzzer uses this spec; null (the default) infers it: <see cref="SpecFamily.Elementwise"/> when the function
    /// maps each element alone and broadcasts, <see cref="SpecFamily.Reduction"/> or <see cref="SpecFamily.AlongAxis"/>
    /// when its body is one call <c>M(x, axis, keepdims)</c> or <c>M(x, axis)</c>, else <see cref="SpecFamily.FixedShapes"/>
    /// (only when its output is a float64 tensor: indices and booleans are not differentiable values).
    /// Specs that are not differentiable (<see cref="FiniteDifferences"/> false), reverse-only or without second order
    /// are never fuzzed (the oracles differentiate twice in both modes).
    /// </summary>
    public SpecFamily? Family { get; init; }

    /// <summary>
    /// The domain of each operand in random programs; null (the default) infers it: <see cref="Domain.Any"/> where the
    /// function is finite for that operand over [-2.5, 2.5], else <see cref="Domain.Positive"/> when the spec's own
    /// inputs for it are positive, <see cref="Domain.Unit"/> when they lie in (-1, 1), <see cref="Domain.AwayFromZero"/>
    /// otherwise. The generator puts an operand into its domain with <c>a * a + 1</c> (Positive, AwayFromZero) or
    /// <c>0.9 * Tanh(a)</c> (Unit).
    /// </summary>
    public Domain[]? Domains { get; init; }

    /// <summary>
    /// A bound of |output| given a bound of each operand's |value| (for elementwise functions; reductions get the
    /// number of reduced elements as a second entry); null (the default) measures it: the largest |output| over a grid of
    /// operand values (elementwise) or over extreme and random inputs (reductions), plus 5%.
    /// </summary>
    public Func<double[], double>? OutputBound { get; init; }

    /// <summary>
    /// The function on <c>double</c>s (for scalar code in random programs); null (the default) derives it from
    /// <see cref="Function"/> by calling each primitive's scalar method (<c>Np.Tanh</c> becomes <c>Math.Tanh</c>,
    /// <c>Np.Softplus</c> becomes <c>ScalarMath.Softplus</c>, operators stay); none when some call has no scalar form.
    /// </summary>
    public LambdaExpression? DoubleFunction { get; init; }

    /// <summary>The dtypes the function takes (every operand of one dtype); float32 and float64 by default.</summary>
    public IReadOnlyList<DType> DTypes { get; init; } = [DType.Float32, DType.Float64];

    /// <summary>False to keep the spec out of random programs (the spec line says why).</summary>
    public bool Fuzzed { get; init; } = true;
}
