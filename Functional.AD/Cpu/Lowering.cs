namespace Functional.AD;

/// <summary>How an eager call of a primitive treats its operands' storage, which decides whether an operand may live in
/// a per-call arena buffer (see <see cref="Pooling"/>).</summary>
internal enum EagerResult
{
    /// <summary>The result may keep an operand's storage (the safe default).</summary>
    MayKeep,
    /// <summary>The result is always a fresh tensor: operands are only read.</summary>
    Fresh,
    /// <summary>The result may be a view of operand 0 (a reshape or broadcast): its own uses decide.</summary>
    View,
    /// <summary>A reduction: fresh when it has fewer elements than operand 0, else possibly a view.</summary>
    Reduction,
}

/// <summary>
/// How the CPU jit lowers one primitive when its shapes are known: the CPU columns of the primitive's declaration
/// (<see cref="Primitive.Cpu"/>, filled by its family in <c>Prims</c>). Elementwise primitives need nothing here beyond
/// their <see cref="Primitive.Scalar"/> and <see cref="Primitive.Vector"/> forms. A primitive without CPU columns (or
/// whose shapes are too large for them) is lowered by calling its eager method, which is real and correct, so every
/// expression jits.
/// </summary>
/// <summary>How a primitive's result repeats a one-element operand (see <see cref="CpuLowering.Repeats"/>).</summary>
internal enum OneElement
{
    /// <summary>It does not.</summary>
    No,
    /// <summary>The element itself, everywhere (ExpandReduced).</summary>
    Itself,
    /// <summary>The element divided by the number of elements of the result, everywhere (ExpandReducedMean).</summary>
    DividedByCount,
}

internal sealed class CpuLowering
{
    /// <summary>Linear in the tensor operands at these positions (jointly; empty: every operand); the other operands must be known at specialisation.</summary>
    public int[]? Linear;
    /// <summary>Whether <see cref="Linear"/> holds for these parameters (null: always). A gather whose padding fills a
    /// non-zero constant is affine, not linear: the jit must not write it as a sum of operand elements.</summary>
    public Func<Params, bool>? LinearWhen;
    /// <summary>Bilinear in operands 0 and 1 (the products); other operands must be known at specialisation.</summary>
    public bool Bilinear;
    /// <summary>The value depends only on the operands' shapes (Zeros, Ones, the gradient seed): a constant once shapes are known.</summary>
    public bool ShapeOnly;
    /// <summary>For <see cref="ShapeOnly"/>: the value from the parameters and the operands' avals, made directly (without
    /// it, the jit runs the eager method on placeholder operands through the expression interpreter).</summary>
    public Func<Params, Aval[], Tensor>? ValueOf;
    /// <summary>Returns its first operand unchanged when the result's aval equals the operand's (SumTo, BroadcastTo, ReshapeTo).</summary>
    public bool IdentityWhenSameAval;
    /// <summary>How its result repeats a one-element first operand to the result's shape (ExpandReduced, the transpose of
    /// a full sum; ExpandReducedMean, of a full mean), so an elementwise user can read that element as a scalar instead
    /// (<see cref="ScalarSeeds"/>).</summary>
    public OneElement Repeats;
    /// <summary>A matrix-product kernel for large operands (see <see cref="Gemm"/>): (a, b, transposeA, transposeB).</summary>
    public (bool TA, bool TB)? Product;
    /// <summary>For a product whose shape it declares (<see cref="Primitive.KnownAval"/>): the terms of each output element from the operands'
    /// dims, written down for unrolled code instead of probed (<see cref="DotRules"/>).</summary>
    public Func<int[], int[], ProbeCache.Term[][]>? ProductTerms;
    /// <summary>Reads one element of a tensor into a C# scalar (ToDouble, ToFloat): an unrolled operand is read directly.</summary>
    public bool ReadsScalar;
    /// <summary>
    /// A kernel that writes its whole result into a given array (of the result's element type and size): the jit hands
    /// it the node's arena buffer (or a fresh array when the value leaves the call) instead of letting the eager method
    /// allocate. Called with the operands (tensors, and constant avals), the node's parameters and the array.
    /// </summary>
    public Func<object?[], Params, Array, Tensor>? Into;
    /// <summary>Whether <see cref="Into"/> writes its result into the given array for these parameters and result dtype (else the eager method runs).</summary>
    public Func<Params, DType, bool>? IntoWhen;
    /// <summary>How its eager call treats its operands' storage.</summary>
    public EagerResult Result = EagerResult.MayKeep;
}
