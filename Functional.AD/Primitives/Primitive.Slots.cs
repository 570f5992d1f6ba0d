namespace Functional.AD;

/// <summary>What a primitive stands for when it is a leaf of a graph (see <see cref="Primitive.Leaf"/>).</summary>
internal enum LeafKind
{
    /// <summary>An operation: a node applying it has operands (possibly none) and is computed.</summary>
    None,
    /// <summary>A graph input (<see cref="Node.IsInput"/>).</summary>
    Input,
    /// <summary>A constant whose value the node holds (<see cref="Node.IsConst"/>).</summary>
    Const,
}

/// <summary>
/// Vmap's rule for a primitive that the generic batching move (apply it again with one more batch axis) cannot batch:
/// the batched node for <paramref name="n"/>, given its mapped operands <paramref name="args"/> (some of them in
/// <paramref name="batched"/>). The rule adds its result to <paramref name="batched"/> when the result carries the
/// batch axis, and throws a <see cref="VmapException"/> naming the subexpression when it cannot batch.
/// </summary>
internal delegate Node BatchingRule(Builder b, Node n, Node[] args, HashSet<Node> batched);

/// <summary>
/// The slots that the transformations, the printer and shape inference ask instead of naming a primitive. Each is
/// filled where its primitive is declared (the conditional in <c>Primitives/Control/Cond.cs</c>, custom rules and
/// loops in their <c>Install</c> methods, the helpers in <c>Primitives/Roles.cs</c>); a primitive that leaves a slot
/// empty gets the generic behaviour described on the slot.
/// </summary>
sealed partial class Primitive
{
    // ------------------------------------------------------------------ graph structure

    /// <summary>Whether a node of this primitive is a graph input, a constant, or an operation (the default).</summary>
    internal LeafKind Leaf;

    /// <summary>
    /// Shape class (<see cref="Node.Cls"/>) of the result: that of the operand at this index when it is a tensor (0,
    /// no class, otherwise). <c>AvalOf</c> describes its operand; <c>GradSeed</c> is ones shaped like it. -1: the
    /// result's class comes from <see cref="Elementwise"/> and <see cref="LikeAval"/>, or is its own.
    /// </summary>
    internal int ClassOfOperand = -1;

    /// <summary>The result is a weak rank-0 tensor (a C# scalar made a tensor): shape class -1, it never changes the shape or dtype it meets.</summary>
    internal bool WeakScalarResult;

    /// <summary>
    /// The operand positions where a constant 1 makes the result the other operand, and -1 its negation (exact in IEEE
    /// arithmetic): <c>x * 1</c>, <c>1 * x</c>, <c>x / 1</c>. The printer folds them once shapes are known.
    /// </summary>
    internal int[]? UnitIdentityAt;

    /// <summary>
    /// Its value depends on its operands' avals only, not on their elements (<c>AvalOf</c>, the gradient seed): a
    /// compiler that knows the avals need not compute the operands for it.
    /// </summary>
    internal bool ReadsAvalsOnly;

    /// <summary>
    /// A node of it checks its operand and throws on a mismatch (<c>CheckAval</c>, which guards user-written rules): a
    /// compiler runs it even when no output reads its value.
    /// </summary>
    internal bool RunsUnread;

    // ------------------------------------------------------------------ shapes

    /// <summary>
    /// Shape inference of a node whose shape the generic rule cannot find (<c>Rt.InferAval</c> runs the primitive on
    /// zeros, which a shape helper or a primitive with sub-graphs cannot): the node and its operands' avals (all known)
    /// in, the node's aval out (<c>null</c>: not known before it runs, as for a conditional whose branches disagree).
    /// </summary>
    internal Func<Node, Aval[], Aval?>? AvalRule;

    /// <summary>An operand that may have no aval (a conditional's C# bool condition): <see cref="AvalRule"/> is still
    /// called, with that aval missing, and reads the others only. -1: none.</summary>
    internal int OperandWithoutAval = -1;

    /// <summary>
    /// The aval of an unbatched application from its parameters and its operands' avals, without running it (read by
    /// <c>Rt.InferAval</c> before abstract evaluation): for primitives whose placeholder operands would be invalid (a
    /// gather whose placeholder indices, ones, fall outside a size-1 axis).
    /// </summary>
    internal Func<Params, Aval[], Aval>? ShapeRule;

    /// <summary>
    /// The aval of a well-formed application from its operands' kinds and avals, found without running it, or
    /// <c>null</c> (then shape inference runs it, which also gives the error of an ill-formed one). Beyond what the
    /// elementwise families know by themselves: the Dot slots on vectors and matrices (through the contraction family,
    /// <see cref="DotRules"/>), <c>SumTo</c> to its operand's own shape.
    /// </summary>
    internal Func<Kind[], Aval[], Aval?>? KnownAval;

    // ------------------------------------------------------------------ batching (Vmap)

    /// <summary>
    /// A node of this primitive always has batch count 0 (<see cref="Node.Batch"/>), whatever its operands: it sees
    /// whole values (a graph leaf, a shape helper such as <c>AvalOf</c> or <c>Zeros</c>, a conditional whose branches
    /// are batched inside it).
    /// </summary>
    internal bool AlwaysUnbatched;

    /// <summary>
    /// The parameters of a node re-applied with <c>by</c> more batch axes (default: unchanged). Shape inference
    /// (<c>InferAval</c>) keeps the batch count of the node it describes in its parameters.
    /// </summary>
    internal Func<Params, int, Params>? ShiftBatch;

    /// <summary>Vmap's rule when the generic move cannot batch the primitive (sub-graphs, custom rules, loops); <c>null</c>: the generic move.</summary>
    internal BatchingRule? VmapRule;

    // ------------------------------------------------------------------ reverse mode

    /// <summary>
    /// Its transpose rule gives masked cotangents (see <c>MaskedCotangents</c>): zero exactly where the primitive did
    /// not select the operand (<c>Where</c>).
    /// </summary>
    internal bool MasksCotangents;

    /// <summary>
    /// A masked cotangent stays masked through its transpose, although the primitive is not elementwise: it moves or
    /// converts values without mixing positions (<c>SumTo</c>, <c>BroadcastTo</c>, the scalar casts). Elementwise
    /// primitives keep the mask without this flag.
    /// </summary>
    internal bool KeepsCotangentMask;

    /// <summary>
    /// The aval of node <c>n</c> re-applied in builder <c>b</c> to operands <c>args</c> (zeros standing for its
    /// tangent operands): what the transpose asks for the shape of a node over tangents that has sub-graphs. Default:
    /// the aval of the re-applied node.
    /// </summary>
    internal Func<Builder, Node, Node[], Node>? ResultAval;

    // ------------------------------------------------------------------ printing

    /// <summary>
    /// Printed as a statement with one block per sub-graph instead of an expression: given the operands' texts, the
    /// line that opens each block (a conditional: <c>if (c)</c>, then <c>else</c>). Each block binds its sub-graph's
    /// inputs to the trailing operands and assigns the sub-graph's output to the node's variable.
    /// </summary>
    internal Func<string[], string[]>? BlockHeads;

    /// <summary>
    /// Printed as a call whose sub-graphs are C# lambdas (the loops: <c>Lax.Scan([x], [xs], Tensor (Tensor c, Tensor r) =&gt; { ... })</c>):
    /// given the operands' texts and <c>lambda(s, k)</c>, the text of sub-graph <c>s</c> as a lambda whose parameters are
    /// its first <c>k</c> inputs (the others bind to the trailing operands, which the lambda captures), the call's text.
    /// </summary>
    internal Func<string[], Func<int, int, string>, Params, string>? LambdaCall;

    /// <summary>
    /// Under <c>Vmap</c>, when a C# scalar operand (a double, a bool) is carried as a batched rank-0 tensor: the node written
    /// on tensors at batch count k (a tensor read into a double is that tensor; <c>&amp;&amp;</c> of 0/1 masks is their
    /// product), or null where the scalar must stay a C# value (Vmap then refuses it, naming it).
    /// </summary>
    internal Func<Builder, Node[], int, Node?>? ScalarAsTensor;

    /// <summary>Under <c>Vmap</c>, its own rule takes C# scalar operands carried as batched tensors (the conditional's
    /// branches do); any other primitive with a <see cref="VmapRule"/> refuses them.</summary>
    internal bool VmapTakesCarriedScalars;

    /// <summary>One of <c>Vmap</c>'s structural moves: written with ordinary primitives once shapes are known, at any batch count.</summary>
    internal bool VmapMove;

    /// <summary>
    /// No public C# spelling (the tangent of a reverse-only custom rule, which cannot run): a printed program holding it
    /// says in its first line that it does not compile.
    /// </summary>
    internal bool NoPublicSpelling;


    // ------------------------------------------------------------------ several results (see Tuples)

    /// <summary>
    /// The kinds of the results of a node of this primitive when it has several (its node is of kind
    /// <see cref="Kind.Tuple"/>, read by <c>Proj</c>); <c>null</c> for a primitive with one result.
    /// </summary>
    internal Func<Node, Kind[]>? ResultKinds;

    /// <summary>
    /// Shape inference of a multi-result node: its operands' avals (<c>null</c> where unknown) in, one aval per result
    /// out (<c>null</c> where not known before it runs). Shape inference and the Torch compiler keep them for its
    /// <c>Proj</c> nodes.
    /// </summary>
    internal Func<Node, Aval?[], Aval?[]>? TupleAvalRule;

    /// <summary>
    /// For a node with sub-graphs: the avals its sub-graphs' inputs take, one array per sub-graph, from its operands'
    /// avals (<c>null</c> where unknown): a Scan's body sees its carries, one row of each sequence and its constants; a
    /// While's condition and body its carries and constants; a conditional's branches the captured values. The printer
    /// folds a specialised listing's sub-graphs with them; without it (a custom rule) they are printed as they are.
    /// </summary>
    internal Func<Node, Aval?[], Aval?[][]>? SubgraphInputAvals;
}
