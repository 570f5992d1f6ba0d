using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The table of primitives. Each entry declares, side by side: the eager methods it is written as (Tensor, double,
/// float), its JVP rule, and its transpose rule when it is linear. Rules use the same operators as user code
/// (see <see cref="V"/> and <see cref="R"/>), so they are differentiable again. Adding a primitive is adding one
/// entry here; no transformation grows a case.
/// </summary>
internal static class Prims
{
    static readonly List<Primitive> all = new();
    static readonly Dictionary<MethodInfo, Primitive> byMethod = new();

    /// <summary>Every primitive of the table (the pseudo-primitives Input, Const, AvalOf, InferAval included).</summary>
    public static IReadOnlyList<Primitive> All => all;

    /// <summary>The primitive a method call stands for, if any.</summary>
    public static Primitive? ForMethod(MethodInfo m) => byMethod.TryGetValue(m, out var p) ? p : null;

    static MethodInfo Np_(string name, params Type[] ts) => typeof(Np).GetMethod(name, ts) ?? throw new MissingMethodException(nameof(Np), name);
    static MethodInfo Lax_(string name, params Type[] ts) => typeof(Lax).GetMethod(name, ts) ?? throw new MissingMethodException(nameof(Lax), name);
    static MethodInfo Rt_(string name, params Type[] ts) => typeof(Rt).GetMethod(name, BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, ts) ?? throw new MissingMethodException(nameof(Rt), name);
    static MethodInfo Math_(string name, params Type[] ts) => typeof(Math).GetMethod(name, ts)!;
    static MethodInfo MathF_(string name, params Type[] ts) => typeof(MathF).GetMethod(name, ts)!;
    static MethodInfo Op_(string name, Type a, Type b) => typeof(Tensor).GetMethod(name, [a, b]) ?? throw new MissingMethodException(nameof(Tensor), name);

    static readonly Type T = typeof(Tensor), D = typeof(double), F = typeof(float), A = typeof(Aval);

    static Primitive Def(string name, MethodInfo? tensor = null, MethodInfo? dbl = null, MethodInfo? flt = null, params MethodInfo[] aliases)
    {
        var p = new Primitive(name) { TensorMethod = tensor, DoubleMethod = dbl, FloatMethod = flt };
        all.Add(p);
        foreach (var m in new[] { tensor, dbl, flt }.Concat(aliases))
            if (m is not null) byMethod.TryAdd(m, p);
        return p;
    }

    static V? Sum2(V? a, V? b) => a is null ? b : b is null ? a : a + b;

    // ---------------------------------------------------------------- structure
    public static readonly Primitive Input = Def("input");
    public static readonly Primitive Const = Def("const");

    // ---------------------------------------------------------------- shape helpers (non-differentiable)
    public static readonly Primitive AvalOf = Def("AvalOf", Lax_("AvalOf", T), Lax_("AvalOf", D), Lax_("AvalOf", F));
    public static readonly Primitive InferAval = Def("InferAval");
    public static readonly Primitive Zeros = Def("Zeros", Lax_("Zeros", A));
    public static readonly Primitive Ones = Def("Ones", Lax_("Ones", A));
    public static readonly Primitive GradSeed = Def("GradSeed", Rt_("GradSeed", T, typeof(string)));

    // ---------------------------------------------------------------- arithmetic
    public static readonly Primitive Add = Def("Add", Np_("Add", T, T), null, null, Op_("op_Addition", T, T), Op_("op_Addition", T, D), Op_("op_Addition", D, T));
    public static readonly Primitive Sub = Def("Sub", Np_("Sub", T, T), null, null, Op_("op_Subtraction", T, T), Op_("op_Subtraction", T, D), Op_("op_Subtraction", D, T));
    public static readonly Primitive Mul = Def("Mul", Np_("Mul", T, T), null, null, Op_("op_Multiply", T, T), Op_("op_Multiply", T, D), Op_("op_Multiply", D, T));
    public static readonly Primitive Div = Def("Div", Np_("Div", T, T), null, null, Op_("op_Division", T, T), Op_("op_Division", T, D), Op_("op_Division", D, T));
    public static readonly Primitive Neg = Def("Neg", Np_("Neg", T), null, null, typeof(Tensor).GetMethod("op_UnaryNegation", [T])!);

    // ---------------------------------------------------------------- elementwise functions
    public static readonly Primitive Exp = Def("Exp", Np_("Exp", T), Math_("Exp", D), MathF_("Exp", F));
    public static readonly Primitive Log = Def("Log", Np_("Log", T), Math_("Log", D), MathF_("Log", F));
    public static readonly Primitive Tanh = Def("Tanh", Np_("Tanh", T), Math_("Tanh", D), MathF_("Tanh", F));
    public static readonly Primitive Sin = Def("Sin", Np_("Sin", T), Math_("Sin", D), MathF_("Sin", F));
    public static readonly Primitive Cos = Def("Cos", Np_("Cos", T), Math_("Cos", D), MathF_("Cos", F));
    public static readonly Primitive Sqrt = Def("Sqrt", Np_("Sqrt", T), Math_("Sqrt", D), MathF_("Sqrt", F));
    public static readonly Primitive Abs = Def("Abs", Np_("Abs", T), Math_("Abs", D), MathF_("Abs", F));
    public static readonly Primitive Sign = Def("Sign", Np_("Sign", T), typeof(ScalarMath).GetMethod("Sign", [D]), typeof(ScalarMath).GetMethod("Sign", [F]));
    public static readonly Primitive Sigmoid = Def("Sigmoid", Np_("Sigmoid", T), typeof(ScalarMath).GetMethod("Sigmoid", [D]), typeof(ScalarMath).GetMethod("Sigmoid", [F]));
    public static readonly Primitive Softplus = Def("Softplus", Np_("Softplus", T), typeof(ScalarMath).GetMethod("Softplus", [D]), typeof(ScalarMath).GetMethod("Softplus", [F]));
    public static readonly Primitive Relu = Def("Relu", Np_("Relu", T), typeof(ScalarMath).GetMethod("Relu", [D]), typeof(ScalarMath).GetMethod("Relu", [F]));
    public static readonly Primitive Pow = Def("Pow", Np_("Pow", T, T), Math_("Pow", D, D), MathF_("Pow", F, F));
    public static readonly Primitive Maximum = Def("Maximum", Np_("Maximum", T, T), Math_("Max", D, D), MathF_("Max", F, F));
    public static readonly Primitive Minimum = Def("Minimum", Np_("Minimum", T, T), Math_("Min", D, D), MathF_("Min", F, F));

    // ---------------------------------------------------------------- comparisons and selection
    public static readonly Primitive Greater = Def("Greater", Np_("Greater", T, T), null, null, Op_("op_GreaterThan", T, T), Op_("op_GreaterThan", T, D), Op_("op_GreaterThan", D, T));
    public static readonly Primitive Less = Def("Less", Np_("Less", T, T), null, null, Op_("op_LessThan", T, T), Op_("op_LessThan", T, D), Op_("op_LessThan", D, T));
    public static readonly Primitive GreaterEqual = Def("GreaterEqual", Np_("GreaterEqual", T, T), null, null, Op_("op_GreaterThanOrEqual", T, T), Op_("op_GreaterThanOrEqual", T, D), Op_("op_GreaterThanOrEqual", D, T));
    public static readonly Primitive LessEqual = Def("LessEqual", Np_("LessEqual", T, T), null, null, Op_("op_LessThanOrEqual", T, T), Op_("op_LessThanOrEqual", T, D), Op_("op_LessThanOrEqual", D, T));
    public static readonly Primitive Equal = Def("Equal", Np_("Equal", T, T));
    public static readonly Primitive NotEqual = Def("NotEqual");
    public static readonly Primitive And = Def("And");
    public static readonly Primitive Or = Def("Or");
    public static readonly Primitive Not = Def("Not");
    public static readonly Primitive Where = Def("Where", Np_("Where", T, T, T));

    // ---------------------------------------------------------------- products
    public static readonly Primitive Dot = Def("Dot", Np_("Dot", T, T));
    public static readonly Primitive DotTA = Def("DotTA", Lax_("DotTA", T, T));
    public static readonly Primitive DotTB = Def("DotTB", Lax_("DotTB", T, T));
    public static readonly Primitive MatMul = Def("MatMul", Np_("MatMul", T, T));
    public static readonly Primitive MatMulTA = Def("MatMulTA", Lax_("MatMulTA", T, T, A));
    public static readonly Primitive MatMulTB = Def("MatMulTB", Lax_("MatMulTB", T, T, A));

    // ---------------------------------------------------------------- shapes
    public static readonly Primitive Transpose = Def("Transpose", Np_("Transpose", T, typeof(int[])));
    public static readonly Primitive Reshape = Def("Reshape", Np_("Reshape", T, typeof(int[])));
    public static readonly Primitive ReshapeTo = Def("ReshapeTo", Lax_("ReshapeTo", T, A));
    public static readonly Primitive BroadcastToShape = Def("BroadcastTo", Np_("BroadcastTo", T, typeof(int[])));
    public static readonly Primitive BroadcastTo = Def("BroadcastTo", Lax_("BroadcastTo", T, A));
    public static readonly Primitive SumTo = Def("SumTo", Lax_("SumTo", T, A));

    // ---------------------------------------------------------------- reductions
    public static readonly Primitive Sum = Def("Sum", Np_("Sum", T, typeof(int?), typeof(bool)));
    public static readonly Primitive Mean = Def("Mean", Np_("Mean", T, typeof(int?), typeof(bool)));
    public static readonly Primitive Max = Def("Max", Np_("Max", T, typeof(int?), typeof(bool)));
    public static readonly Primitive ExpandReduced = Def("ExpandReduced", Lax_("ExpandReduced", T, A, typeof(int?), typeof(bool)));
    public static readonly Primitive ExpandReducedMean = Def("ExpandReducedMean", Lax_("ExpandReducedMean", T, A, typeof(int?), typeof(bool)));
    public static readonly Primitive LogSumExp = Def("LogSumExp", Np_("LogSumExp", T, typeof(int?), typeof(bool)));
    public static readonly Primitive Softmax = Def("Softmax", Np_("Softmax", T, typeof(int)));
    public static readonly Primitive LogSoftmax = Def("LogSoftmax", Np_("LogSoftmax", T, typeof(int)));
    public static readonly Primitive Argmax = Def("Argmax", Np_("Argmax", T, typeof(int?)));

    // ---------------------------------------------------------------- indexing and joining
    public static readonly Primitive Take = Def("Take", Np_("Take", T, T, typeof(int)));
    public static readonly Primitive ScatterAdd = Def("ScatterAdd", Lax_("ScatterAdd", T, T, typeof(int), A));
    public static readonly Primitive OneHot = Def("OneHot", Np_("OneHot", T, typeof(int), typeof(DType)));
    public static readonly Primitive Concatenate = Def("Concatenate", Np_("Concatenate", typeof(Tensor[]), typeof(int)));
    public static readonly Primitive SplitPart = Def("SplitPart", Lax_("SplitPart", T, typeof(int), typeof(int), typeof(Aval[])));
    public static readonly Primitive PadPart = Def("PadPart", Lax_("PadPart", T, typeof(int), typeof(int), typeof(Aval[])));
    public static readonly Primitive Stack = Def("Stack", Np_("Stack", typeof(Tensor[]), typeof(int)));
    public static readonly Primitive Unstack = Def("Unstack", Rt_("Unstack", T, A, typeof(int), typeof(int)));
    public static readonly Primitive StackPart = Def("StackPart", Rt_("StackPart", T, A, typeof(int), typeof(int)));

    // ---------------------------------------------------------------- conversions
    public static readonly Primitive ToDouble = Def("ToDouble", Lax_("ToDouble", T), null, null, typeof(Tensor).GetMethod("op_Explicit", [T])!);
    public static readonly Primitive ToFloat = Def("ToFloat", Lax_("ToFloat", T));
    public static readonly Primitive FromDouble = Def("FromDouble", Lax_("FromDouble", D), Lax_("FromDouble", D), null, typeof(Tensor).GetMethod("op_Implicit", [D])!);
    public static readonly Primitive FromFloat = Def("FromFloat", Lax_("FromFloat", F), null, Lax_("FromFloat", F));
    public static readonly Primitive CastDouble = Def("CastDouble");
    public static readonly Primitive CastFloat = Def("CastFloat");
    public static readonly Primitive StopGradient = Def("StopGradient", Np_("StopGradient", T));
    /// <summary>A static integer (a pytree's int field, an int argument) used as a number: constant w.r.t. every input.</summary>
    public static readonly Primitive IntToDouble = Def("IntToDouble");

    // ---------------------------------------------------------------- Jacobian layouts (Ad.Jacfwd, Ad.Jacrev)
    static MethodInfo JL(string name) => typeof(JacobianLayout).GetMethod(name)!;
    public static readonly Primitive Basis = Def("Basis", JL("Basis"));
    public static readonly Primitive RowsToJacobian = Def("RowsToJacobian", JL("FromRows"));
    public static readonly Primitive JacobianToRows = Def("JacobianToRows", JL("ToRows"));
    public static readonly Primitive ColumnsToJacobian = Def("ColumnsToJacobian", JL("FromColumns"));
    public static readonly Primitive JacobianToColumns = Def("JacobianToColumns", JL("ToColumns"));

    // ---------------------------------------------------------------- user rules
    /// <summary>A function with a custom rule: operands are its argument's leaves, the sub-graph its body.</summary>
    public static readonly Primitive Custom = Def("Custom");
    /// <summary>The tangent of a function with only a custom VJP: linear in its tangent operands, transposed by the user's rule.</summary>
    public static readonly Primitive CustomVjpTangent = Def("CustomVjpTangent");
    /// <summary>Identity that checks its operand's shape against an aval (guards user-written rules).</summary>
    public static readonly Primitive CheckAval = Def("CheckAval");

    // ---------------------------------------------------------------- control flow
    /// <summary><c>c ? a : b</c>: operands are the condition then the captured values; two sub-graphs, one output each.</summary>
    public static readonly Primitive Cond = Def("Cond");
    /// <summary><c>NpLoops.Fold(n, init, body)</c>: operands are the initial carry then the captured values; the body sub-graph maps (i, carry, captures...) to the next carry.</summary>
    public static readonly Primitive Fold = Def("Fold");
    /// <summary>The carries at the start of each iteration of a Fold (reverse mode's tape).</summary>
    public static readonly Primitive FoldTape = Def("FoldTape");
    /// <summary>The tangent loop of a Fold over its tape: linear in the tangents.</summary>
    public static readonly Primitive FoldLin = Def("FoldLin");
    /// <summary>The transpose of FoldLin: the transposed body run backwards over the tape.</summary>
    public static readonly Primitive FoldLinT = Def("FoldLinT");
    /// <summary><c>Np.Scan(xs, init, body)</c>: operands init, xs, captures; params (which result, length, source, checkpoint); subs: the carry-only body, the full body.</summary>
    public static readonly Primitive Scan = Def("Scan");
    /// <summary><c>Np.While(cond, body, init)</c>: operands init, captures; params (source); subs: the condition, the body.</summary>
    public static readonly Primitive While = Def("While");
    /// <summary>The carries at the start of each step of a Scan (reverse mode's tape; every k-th with a checkpoint k).</summary>
    public static readonly Primitive ScanTape = Def("ScanTape");
    /// <summary>The carries at the start of each trip of a While, as many as it runs.</summary>
    public static readonly Primitive WhileTape = Def("WhileTape");
    /// <summary>The tangent loop of a Scan or While over its tape: linear in the tangents.</summary>
    public static readonly Primitive LoopLin = Def("LoopLin");
    /// <summary>The transpose of LoopLin: the transposed body run backwards over the tape.</summary>
    public static readonly Primitive LoopLinT = Def("LoopLinT");
    /// <summary>Vmap of a loop's derivative primitive: the primitive (its one-node sub-graph) run once per example and the results stacked.</summary>
    public static readonly Primitive LoopPerExample = Def("LoopPerExample");

    // ---------------------------------------------------------------- batching (Vmap); rules in Batching.cs
    /// <summary>Moves core axis <c>axis</c> to core position 0 (a vmapped argument's mapped axis to the front).</summary>
    public static readonly Primitive MoveAxisToFront = Def("MoveAxisToFront", typeof(Vmapped).GetMethod("MoveAxisToFront")!);
    /// <summary>Moves core axis 0 to core position <c>axis</c> (a batched output to its out axis).</summary>
    public static readonly Primitive MoveAxisFromFront = Def("MoveAxisFromFront", typeof(Vmapped).GetMethod("MoveAxisFromFront")!);
    /// <summary>Inserts a size-1 axis at core position 0 (an unbatched operand meeting batched ones); also on avals.</summary>
    public static readonly Primitive AddBatchAxis = Def("AddBatchAxis", typeof(Vmapped).GetMethod("AddBatchAxis", [T])!);
    /// <summary>Broadcasts core axis 0 (size 1 or B) to the batch size B held by an aval [B].</summary>
    public static readonly Primitive BroadcastBatch = Def("BroadcastBatch", typeof(Vmapped).GetMethod("BroadcastBatch")!);
    /// <summary>The batch size of a vmapped call, as an aval [B], checked across the batched arguments.</summary>
    public static readonly Primitive VmapSize = Def("VmapSize", typeof(Vmapped).GetMethod("Size")!);

    static Prims()
    {
        Input.Foldable = Const.Foldable = false;
        InferAval.Foldable = true;

        // --- shape families: elementwise ops keep their operands' symbolic shape; helpers take their aval operand's
        foreach (var p in new[] { Add, Sub, Mul, Div, Neg, Exp, Log, Tanh, Sin, Cos, Sqrt, Abs, Sign, Sigmoid, Softplus, Relu, Pow, Maximum, Minimum,
                                  Greater, Less, GreaterEqual, LessEqual, Equal, Where, StopGradient })
            p.Elementwise = true;
        foreach (var p in new[] { Zeros, Ones }) p.LikeAval = 0;
        foreach (var p in new[] { SumTo, BroadcastTo, ReshapeTo, ExpandReduced, ExpandReducedMean }) p.LikeAval = 1;
        foreach (var p in new[] { ScatterAdd }) p.LikeAval = 2;   // (MatMulTA/TB keep g's dtype, so they are not shaped like their aval)
        // SumTo, BroadcastTo and ReshapeTo to the shape a value already has are the identity
        foreach (var p in new[] { SumTo, BroadcastTo, ReshapeTo })
            p.Rewrite = (b, a, _) => a[0].Kind == Kind.Tensor && a[0].Cls == a[1].Cls && a[0].Cls > 0 ? a[0] : null;

        // --- shape helpers
        AvalOf.KindRule = (_, _, _) => Kind.Aval; AvalOf.ZeroDerivative = true;
        InferAval.KindRule = (_, _, _) => Kind.Aval; InferAval.ZeroDerivative = true;
        InferAval.EmitRule = (a, k, p, _) => Expression.Call(Rt_("InferAval", typeof(Primitive), typeof(Params), typeof(Kind[]), typeof(Aval[]), typeof(int)),
            Expression.Constant(p[0], typeof(Primitive)), Expression.Constant(p[1], typeof(Params)), Expression.Constant(p[2], typeof(Kind[])), Expression.NewArrayInit(typeof(Aval), a),
            Expression.Constant(p.Count > 3 ? p[3] : 0, typeof(int)));
        InferAval.FormatRule = (a, _, p) => $"Shape.Of{p[0]}({string.Join(", ", a)})";
        Zeros.ZeroDerivative = Ones.ZeroDerivative = GradSeed.ZeroDerivative = true;
        GradSeed.Foldable = false;

        // --- arithmetic: operators on every kind
        foreach (var (p, op, infix) in new[] { (Add, ExpressionType.Add, "+"), (Sub, ExpressionType.Subtract, "-"), (Mul, ExpressionType.Multiply, "*"), (Div, ExpressionType.Divide, "/") })
        {
            p.Infix = infix;
            p.EmitRule = (a, k, _, _) => Expression.MakeBinary(op, a[0], a[1]);
        }
        Neg.Infix = "-";
        Neg.EmitRule = (a, _, _, _) => Expression.Negate(a[0]);

        Add.Jvp = (c, t) => (t[0], t[1]) switch { (null, { } tb) => c.BroadcastToAns(tb), ({ } ta, null) => c.BroadcastToAns(ta), ({ } ta, { } tb) => ta + tb, _ => null };
        Add.Transpose = (c, ct) => [c.Linear[0] ? c.Unbroadcast(ct, 0) : null, c.Linear[1] ? c.Unbroadcast(ct, 1) : null];
        Sub.Jvp = (c, t) => (t[0], t[1]) switch { (null, { } tb) => c.BroadcastToAns(-tb), ({ } ta, null) => c.BroadcastToAns(ta), ({ } ta, { } tb) => ta - tb, _ => null };
        Sub.Transpose = (c, ct) => [c.Linear[0] ? c.Unbroadcast(ct, 0) : null, c.Linear[1] ? c.Unbroadcast(-ct, 1) : null];
        Mul.Jvp = (c, t) => Sum2(t[0] is { } ta ? ta * c.X[1] : null, t[1] is { } tb ? c.X[0] * tb : null);
        Mul.Transpose = (c, ct) => [c.Linear[0] ? c.Unbroadcast(MaskedCotangents.Mul(c, ct, c.X[1]), 0) : null, c.Linear[1] ? c.Unbroadcast(MaskedCotangents.Mul(c, ct, c.X[0]), 1) : null];
        // d(a/b) = da/b - (a/b) db/b
        Div.Jvp = (c, t) => t[1] is not { } tb ? t[0]! / c.X[1] : t[0] is not { } ta ? -(c.Ans! * tb / c.X[1]) : (ta - c.Ans! * tb) / c.X[1];
        Div.Transpose = (c, ct) => [c.Linear[0] ? c.Unbroadcast(MaskedCotangents.Div(c, ct, c.X[1]), 0) : null, NotLinear(c, "Div", 1)];
        Neg.Jvp = (c, t) => -t[0]!;
        Neg.Transpose = (c, ct) => [-ct];

        // IEEE-exact rewrites only: x*1, x/1, --x; signs pulled out of products and into subtractions; commutative
        // operands in a canonical order so that a*b and b*a are one node
        Add.Rewrite = (b, a, _) =>
            a[1].Op == Neg ? b.Apply(Sub, [a[0], a[1].Args[0]]) :
            a[0].Op == Neg ? b.Apply(Sub, [a[1], a[0].Args[0]]) :
            a[0].Id > a[1].Id ? b.Apply(Add, [a[1], a[0]]) : null;
        Sub.Rewrite = (b, a, _) => a[1].Op == Neg ? b.Apply(Add, [a[0], a[1].Args[0]]) : null;
        Mul.Rewrite = (b, a, _) =>
            IsOne(a[0], a[1]) ? a[1] : IsOne(a[1], a[0]) ? a[0] :
            a[0].Op == Neg ? b.Apply(Neg, [b.Apply(Mul, [a[0].Args[0], a[1]])]) :
            a[1].Op == Neg ? b.Apply(Neg, [b.Apply(Mul, [a[0], a[1].Args[0]])]) :
            a[0].Id > a[1].Id ? b.Apply(Mul, [a[1], a[0]]) : null;
        Div.Rewrite = (b, a, _) =>
            IsOne(a[1], a[0]) ? a[0] :
            a[0].Op == Neg ? b.Apply(Neg, [b.Apply(Div, [a[0].Args[0], a[1]])]) : null;
        Neg.Rewrite = (b, a, _) => a[0].Op == Neg ? a[0].Args[0] : null;

        // --- elementwise functions
        Exp.Jvp = (c, t) => t[0]! * c.Ans!;
        Log.Jvp = (c, t) => t[0]! / c.X[0];
        Tanh.Jvp = (c, t) => t[0]! * (1 - c.Ans! * c.Ans!);
        Sin.Jvp = (c, t) => t[0]! * R.Cos(c.X[0]);
        Cos.Jvp = (c, t) => t[0]! * -R.Sin(c.X[0]);
        Sqrt.Jvp = (c, t) => t[0]! / (2 * c.Ans!);
        Abs.Jvp = (c, t) => t[0]! * R.Sign(c.X[0]);
        Sign.ZeroDerivative = true;
        Sigmoid.Jvp = (c, t) => t[0]! * (c.Ans! * (1 - c.Ans!));
        Softplus.Jvp = (c, t) => t[0]! * R.Sigmoid(c.X[0]);
        Relu.Jvp = (c, t) => t[0]! * R.Step(c.X[0]);
        // d(a^b) = b a^(b-1) da + log(a) a^b db
        Pow.Jvp = (c, t) => Sum2(t[0] is { } ta ? ta * (c.X[1] * R.Pow(c.X[0], c.X[1] - 1)) : null,
                                  t[1] is { } tb ? tb * (R.Log(c.X[0]) * c.Ans!) : null);
        // ties split the tangent evenly, as JAX does
        Maximum.Jvp = (c, t) => MinMaxJvp(c, t, R.Greater(c.X[0], c.X[1]), R.Less(c.X[0], c.X[1]));
        Minimum.Jvp = (c, t) => MinMaxJvp(c, t, R.Less(c.X[0], c.X[1]), R.Greater(c.X[0], c.X[1]));

        // --- comparisons: tensors give 0/1 masks, scalars give bool
        foreach (var (p, op) in new[] { (Greater, ExpressionType.GreaterThan), (Less, ExpressionType.LessThan), (GreaterEqual, ExpressionType.GreaterThanOrEqual),
                                        (LessEqual, ExpressionType.LessThanOrEqual), (Equal, ExpressionType.Equal), (NotEqual, ExpressionType.NotEqual) })
        {
            p.ZeroDerivative = true;
            p.KindRule = (k, _, _) => k.Contains(Kind.Tensor) ? Kind.Tensor : Kind.Bool;
            var tensorM = p.TensorMethod;
            p.EmitRule = (a, k, prm, _) => k.Contains(Kind.Tensor)
                ? Primitive.CallWith(tensorM ?? throw new InvalidOperationException($"{p.Name} on tensors is not supported."), a, prm)
                : Expression.MakeBinary(op, a[0], a[1]);
            p.Infix = op switch
            {
                ExpressionType.GreaterThan => ">", ExpressionType.LessThan => "<", ExpressionType.GreaterThanOrEqual => ">=",
                ExpressionType.LessThanOrEqual => "<=", ExpressionType.Equal => "==", _ => "!=",
            };
            p.FormatRule = (a, k, prm) => k.Contains(Kind.Tensor) && tensorM is not null && tensorM.DeclaringType == typeof(Np)
                ? $"Np.{tensorM.Name}({a[0]}, {a[1]})" : $"{a[0]} {p.Infix} {a[1]}";
        }
        foreach (var (p, op, infix) in new[] { (And, ExpressionType.AndAlso, "&&"), (Or, ExpressionType.OrElse, "||") })
        {
            p.ZeroDerivative = true; p.Infix = infix;
            p.KindRule = (_, _, _) => Kind.Bool;
            p.EmitRule = (a, _, _, _) => Expression.MakeBinary(op, a[0], a[1]);
        }
        Not.ZeroDerivative = true; Not.Infix = "!";
        Not.KindRule = (_, _, _) => Kind.Bool;
        Not.EmitRule = (a, _, _, _) => Expression.Not(a[0]);

        // Where(c, a, b): a bool condition is a select between whole values; a tensor mask selects elementwise
        Where.NonDiff = [0];
        Where.KindRule = (k, _, _) => k[1] == Kind.Tensor || k[2] == Kind.Tensor || k[0] == Kind.Tensor ? Kind.Tensor : k[1] == Kind.Double || k[2] == Kind.Double ? Kind.Double : Kind.Float;
        Where.EmitRule = (a, k, prm, _) =>
        {
            if (k[0] == Kind.Bool)
            {
                var type = Where.KindOf(k, prm, []).ClrType();
                return Expression.Condition(a[0], Primitive.Conv(a[1], type), Primitive.Conv(a[2], type));
            }
            return Primitive.CallWith(Where.TensorMethod!, a, prm);
        };
        Where.FormatRule = (a, k, _) => k[0] == Kind.Bool ? $"{a[0]} ? {a[1]} : {a[2]}" : $"Np.Where({a[0]}, {a[1]}, {a[2]})";
        // a mask broadcasts its operands: the tangent is broadcast to the output (a symbolic-zero partner of a larger shape)
        Where.Jvp = (c, t) => t[1] is null && t[2] is null ? null
            : c.X[0].Kind == Kind.Bool ? R.Where(c.X[0], t[1] ?? WhereZero(c, 1), t[2] ?? WhereZero(c, 2))
            : c.BroadcastToAns(R.Where(c.X[0], t[1] ?? WhereZero(c, 1), t[2] ?? WhereZero(c, 2)));
        Where.Transpose = (c, ct) =>
        {
            var zero = c.X[0].Kind == Kind.Bool ? R.ZerosOf(ct) : ct.Const(0);
            return [null, c.Linear[1] ? c.Unbroadcast(R.Where(c.X[0], ct, zero), 1) : null, c.Linear[2] ? c.Unbroadcast(R.Where(c.X[0], zero, ct), 2) : null];
        };

        // --- products: Dot, DotTA and DotTB are the three slots of one contraction, each the transpose of another
        Dot.Jvp = (c, t) => Sum2(t[0] is null ? null : R.Dot(t[0]!, c.X[1]), t[1] is null ? null : R.Dot(c.X[0], t[1]!));
        // each cotangent takes its operand's dtype (Own): a float32 operand of a product with a float64 one gets a float32 cotangent
        Dot.Transpose = (c, ct) => [c.Linear[0] ? Own(c, 0, R.DotTA(ct, c.X[1])) : null, c.Linear[1] ? Own(c, 1, R.DotTB(c.X[0], ct)) : null];
        DotTA.Jvp = (c, t) => Sum2(t[0] is null ? null : R.DotTA(t[0]!, c.X[1]), t[1] is null ? null : R.DotTA(c.X[0], t[1]!));
        DotTA.Transpose = (c, ct) => [c.Linear[0] ? Own(c, 0, R.Dot(ct, c.X[1])) : null, c.Linear[1] ? Own(c, 1, R.DotTB(ct, c.X[0])) : null];
        DotTB.Jvp = (c, t) => Sum2(t[0] is null ? null : R.DotTB(t[0]!, c.X[1]), t[1] is null ? null : R.DotTB(c.X[0], t[1]!));
        DotTB.Transpose = (c, ct) => [c.Linear[0] ? Own(c, 0, R.DotTA(c.X[1], ct)) : null, c.Linear[1] ? Own(c, 1, R.Dot(c.X[0], ct)) : null];
        MatMul.Jvp = (c, t) => Sum2(t[0] is null ? null : R.MatMul(t[0]!, c.X[1]), t[1] is null ? null : R.MatMul(c.X[0], t[1]!));
        MatMul.Transpose = (c, ct) => [c.Linear[0] ? Own(c, 0, R.MatMulTA(ct, c.X[1], c.Aval(0))) : null, c.Linear[1] ? Own(c, 1, R.MatMulTB(c.X[0], ct, c.Aval(1))) : null];
        MatMulTA.NonDiff = [2];
        MatMulTA.Jvp = (c, t) => Sum2(t[0] is null ? null : R.MatMulTA(t[0]!, c.X[1], c.X[2]), t[1] is null ? null : R.MatMulTA(c.X[0], t[1]!, c.X[2]));
        MatMulTA.Transpose = (c, ct) => [c.Linear[0] ? c.Unbroadcast(R.MatMul(ct, c.X[1]), 0) : null, c.Linear[1] ? R.MatMulTB(ct, c.X[0], c.Aval(1)) : null, null];
        MatMulTB.NonDiff = [2];
        MatMulTB.Jvp = (c, t) => Sum2(t[0] is null ? null : R.MatMulTB(t[0]!, c.X[1], c.X[2]), t[1] is null ? null : R.MatMulTB(c.X[0], t[1]!, c.X[2]));
        MatMulTB.Transpose = (c, ct) => [c.Linear[0] ? R.MatMulTA(c.X[1], ct, c.Aval(0)) : null, c.Linear[1] ? c.Unbroadcast(R.MatMul(c.X[0], ct), 1) : null, null];

        // --- shapes
        Transpose.Jvp = (c, t) => R.Transpose(t[0]!, c.P.Get<int[]?>(0));
        Transpose.Transpose = (c, ct) => [R.Transpose(ct, Inverse(c.P.Get<int[]?>(0)))];
        Reshape.Jvp = (c, t) => R.Reshape(t[0]!, c.P.Get<int[]>(0));
        Reshape.Transpose = (c, ct) => [R.ReshapeTo(ct, c.Aval(0))];
        ReshapeTo.NonDiff = [1];
        ReshapeTo.Jvp = (c, t) => R.ReshapeTo(t[0]!, c.X[1]);
        ReshapeTo.Transpose = (c, ct) => [R.ReshapeTo(ct, c.Aval(0)), null];
        BroadcastToShape.Jvp = (c, t) => R.BroadcastToShape(t[0]!, c.P.Get<int[]>(0));
        BroadcastToShape.Transpose = (c, ct) => [c.Unbroadcast(ct, 0)];
        BroadcastTo.NonDiff = [1];
        BroadcastTo.Jvp = (c, t) => R.BroadcastTo(t[0]!, c.X[1]);
        BroadcastTo.Transpose = (c, ct) => [c.Unbroadcast(ct, 0), null];
        SumTo.NonDiff = [1];
        SumTo.Jvp = (c, t) => R.SumTo(t[0]!, c.X[1]);
        SumTo.Transpose = (c, ct) => [R.BroadcastTo(ct, c.Aval(0)), null];

        // --- reductions
        Sum.Jvp = (c, t) => R.Sum(t[0]!, c.P.Get<int?>(0), c.P.Get<bool>(1));
        Sum.Transpose = (c, ct) => [R.ExpandReduced(ct, c.Aval(0), c.P.Get<int?>(0), c.P.Get<bool>(1))];
        Mean.Jvp = (c, t) => R.Mean(t[0]!, c.P.Get<int?>(0), c.P.Get<bool>(1));
        Mean.Transpose = (c, ct) => [R.ExpandReducedMean(ct, c.Aval(0), c.P.Get<int?>(0), c.P.Get<bool>(1))];
        ExpandReduced.NonDiff = [1];
        ExpandReduced.Jvp = (c, t) => R.ExpandReduced(t[0]!, c.X[1], c.P.Get<int?>(0), c.P.Get<bool>(1));
        ExpandReduced.Transpose = (c, ct) => [R.Sum(ct, c.P.Get<int?>(0), c.P.Get<bool>(1)), null];
        ExpandReducedMean.NonDiff = [1];
        ExpandReducedMean.Jvp = (c, t) => R.ExpandReducedMean(t[0]!, c.X[1], c.P.Get<int?>(0), c.P.Get<bool>(1));
        ExpandReducedMean.Transpose = (c, ct) => [R.Mean(ct, c.P.Get<int?>(0), c.P.Get<bool>(1)), null];
        // the tangent of a max is the mean of the tangents at the maximising positions
        Max.Jvp = (c, t) =>
        {
            int? axis = c.P.Get<int?>(0); bool keep = c.P.Get<bool>(1);
            var mask = R.Equal(c.X[0], R.ExpandReduced(c.Ans!, c.Aval(0), axis, keep));
            return R.Sum(t[0]! * mask, axis, keep) / R.Sum(mask, axis, keep);
        };
        LogSumExp.Jvp = (c, t) =>
        {
            int? axis = c.P.Get<int?>(0); bool keep = c.P.Get<bool>(1);
            var softmax = R.Exp(c.X[0] - R.ExpandReduced(c.Ans!, c.Aval(0), axis, keep));
            return R.Sum(t[0]! * softmax, axis, keep);
        };
        Softmax.Jvp = (c, t) => c.Ans! * (t[0]! - R.Sum(c.Ans! * t[0]!, c.P.Get<int>(0), true));
        LogSoftmax.Jvp = (c, t) => t[0]! - R.Sum(R.Exp(c.Ans!) * t[0]!, c.P.Get<int>(0), true);
        Argmax.ZeroDerivative = true;

        // --- indexing and joining
        Take.NonDiff = [1];
        Take.Jvp = (c, t) => R.Take(t[0]!, c.X[1], c.P.Get<int>(0));
        Take.Transpose = (c, ct) => [R.ScatterAdd(ct, c.X[1], c.P.Get<int>(0), c.Aval(0)), null];
        ScatterAdd.NonDiff = [1, 2];
        ScatterAdd.Jvp = (c, t) => R.ScatterAdd(t[0]!, c.X[1], c.P.Get<int>(0), c.X[2]);
        ScatterAdd.Transpose = (c, ct) => [R.Take(ct, c.X[1], c.P.Get<int>(0)), null, null];
        OneHot.ZeroDerivative = true;
        Concatenate.Jvp = (c, t) => R.Concatenate(t.Select((ti, i) => ti ?? c.ZeroLike(i)).ToArray(), c.P.Get<int>(0));
        Concatenate.Transpose = (c, ct) =>
        {
            var parts = c.X.Select((_, i) => c.Aval(i)).ToArray();
            return c.X.Select((_, i) => c.Linear[i] ? Own(c, i, R.SplitPart(ct, c.P.Get<int>(0), i, parts)) : null).ToArray();
        };
        SplitPart.Jvp = (c, t) => R.SplitPart(t[0]!, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray());
        SplitPart.Transpose = (c, ct) => [R.PadPart(ct, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray()), .. c.X.Skip(1).Select(_ => (V?)null)];
        PadPart.Jvp = (c, t) => R.PadPart(t[0]!, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray());
        PadPart.Transpose = (c, ct) => [R.SplitPart(ct, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray()), .. c.X.Skip(1).Select(_ => (V?)null)];
        SplitPart.NonDiff = PadPart.NonDiff = Enumerable.Range(1, 64).ToArray();
        Stack.Jvp = (c, t) => R.Stack(t.Select((ti, i) => ti ?? c.ZeroLike(i)).ToArray(), c.P.Get<int>(0));
        // SumTo to the part's own aval: the cotangent of a float32 part stacked with float64 ones is float32
        Stack.Transpose = (c, ct) => c.X.Select((_, i) => c.Linear[i] ? R.SumTo(R.Unstack(ct, R.AvalOf(ct), c.P.Get<int>(0), i), c.Aval(i)) : null).ToArray();
        Unstack.NonDiff = [1];
        Unstack.Jvp = (c, t) => R.Unstack(t[0]!, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1));
        Unstack.Transpose = (c, ct) => [R.StackPart(ct, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1)), null];
        StackPart.NonDiff = [1];
        StackPart.Jvp = (c, t) => R.StackPart(t[0]!, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1));
        StackPart.Transpose = (c, ct) => [R.Unstack(ct, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1)), null];

        // --- conversions (all linear)
        ToDouble.KindRule = (_, _, _) => Kind.Double;
        ToDouble.Jvp = (c, t) => R.ToDouble(t[0]!);
        ToDouble.Transpose = (c, ct) => [R.BroadcastTo(R.FromScalar(ct), c.Aval(0))];
        ToFloat.KindRule = (_, _, _) => Kind.Float;
        ToFloat.Jvp = (c, t) => R.ToFloat(t[0]!);
        ToFloat.Transpose = (c, ct) => [R.BroadcastTo(R.FromScalar(ct), c.Aval(0))];
        FromDouble.KindRule = (_, _, _) => Kind.Tensor;
        FromDouble.EmitRule = (a, _, _, _) => Expression.Call(Lax_("FromDouble", D), a[0]);
        FromDouble.Jvp = (c, t) => R.FromScalar(t[0]!);
        FromDouble.Transpose = (c, ct) => [c.Unbroadcast(ct, 0)];
        FromFloat.KindRule = (_, _, _) => Kind.Tensor;
        FromFloat.EmitRule = (a, _, _, _) => Expression.Call(Lax_("FromFloat", F), a[0]);
        FromFloat.Jvp = (c, t) => R.FromScalar(t[0]!);
        FromFloat.Transpose = (c, ct) => [c.Unbroadcast(ct, 0)];
        CastDouble.KindRule = (_, _, _) => Kind.Double;
        CastDouble.EmitRule = (a, _, _, _) => Expression.Convert(a[0], typeof(double));
        CastDouble.FormatRule = (a, _, _) => $"(double){a[0]}";
        CastDouble.Jvp = (c, t) => R.CastDouble(t[0]!);
        CastDouble.Transpose = (c, ct) => [R.CastFloat(ct)];
        CastFloat.KindRule = (_, _, _) => Kind.Float;
        CastFloat.EmitRule = (a, _, _, _) => Expression.Convert(a[0], typeof(float));
        CastFloat.FormatRule = (a, _, _) => $"(float){a[0]}";
        CastFloat.Jvp = (c, t) => R.CastFloat(t[0]!);
        CastFloat.Transpose = (c, ct) => [R.CastDouble(ct)];
        StopGradient.ZeroDerivative = true;
        IntToDouble.ZeroDerivative = true;
        IntToDouble.KindRule = (_, _, _) => Kind.Double;
        IntToDouble.EmitRule = (a, _, _, _) => Expression.Convert(a[0], typeof(double));
        IntToDouble.FormatRule = (a, _, _) => $"(double){a[0]}";

        // --- control flow
        CondRules.Install(Cond);
        Loops.Install();
        ScanWhile.Install();
        CustomRules.Install(Custom, CustomVjpTangent, CheckAval);

        // --- Jacobian layouts: permutations and reshapes, linear in their first operand; the second gives shapes only
        Basis.ZeroDerivative = true;
        foreach (var (p, inverse) in new[] { (RowsToJacobian, JacobianToRows), (JacobianToRows, RowsToJacobian), (ColumnsToJacobian, JacobianToColumns), (JacobianToColumns, ColumnsToJacobian) })
        {
            p.NonDiff = [1];
            p.Jvp = (c, t) => new V(c.B.Apply(p, [t[0]!.N, c.X[1].N], new Params(0)));
            p.Transpose = (c, ct) => [new V(c.B.Apply(inverse, [ct.N, c.X[1].N], new Params(0))), null];
        }
        foreach (var p in new[] { Basis, RowsToJacobian, JacobianToRows, ColumnsToJacobian, JacobianToColumns })
            p.FormatRule = (a, _, _) => $"JacobianLayout.{p.TensorMethod!.Name}({string.Join(", ", a)})";

        // --- batching: structural primitives of Vmap and the batched implementation of every primitive
        Batching.Install();
    }

    static V? NotLinear(RuleCtx c, string name, int i) =>
        c.Linear[i] ? throw new InvalidOperationException($"Internal error: {name} is not linear in operand {i}.") : null;

    static bool IsOne(Node c, Node other) =>
        c.IsConst && (c.Value is double d && d == 1.0 && other.Kind is Kind.Double or Kind.Tensor
                   || c.Value is float f && f == 1f && other.Kind == Kind.Float);

    static int[]? Inverse(int[]? perm)
    {
        if (perm is null) return null;
        var inv = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inv[perm[i] < 0 ? perm[i] + perm.Length : perm[i]] = i;
        return inv;
    }

    /// <summary>A cotangent cast to the dtype of operand <paramref name="i"/> (SumTo to its own aval casts, as for broadcasting ops).</summary>
    static V Own(RuleCtx c, int i, V ct) => R.SumTo(ct, c.Aval(i));

    static V WhereZero(RuleCtx c, int i) => c.X[0].Kind == Kind.Bool ? c.ZeroLike(i) : c.X[i].Const(0);

    static V? MinMaxJvp(RuleCtx c, V?[] t, V wins, V loses)
    {
        var ta = t[0] ?? c.X[0].Const(0);
        var tb = t[1] ?? c.X[1].Const(0);
        if (c.X[0].Kind == Kind.Tensor && t[0] is null) ta = R.ZerosOf(c.X[0]);
        if (c.X[1].Kind == Kind.Tensor && t[1] is null) tb = R.ZerosOf(c.X[1]);
        return c.BroadcastToAns(R.Where(wins, ta, R.Where(loses, tb, (ta + tb) * 0.5)));
    }
}
