using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// Code generation for one shape signature: walks the graph with every node's aval known and emits a LINQ
/// expression block. A tensor value lives in one of two forms: an object (a <see cref="Tensor"/> expression, as eager
/// code has it) or, for tiny tensors, one scalar local per element (straight-line code, no allocation). Elementwise
/// nodes, linear and bilinear nodes of tiny size are unrolled; large products call the blocked GEMM; everything else
/// calls the primitive's eager method (TensorPrimitives kernels for large elementwise ops and reductions).
/// Shape-only helpers (AvalOf, InferAval, Zeros, the gradient seed) fold to constants.
/// </summary>
internal sealed partial class Codegen
{
    /// <summary>Tensors of at most this many elements are unrolled into scalar locals.</summary>
    public const int Tiny = 16;
    /// <summary>Most one-hot probes a linear or bilinear node may take to find its coefficients.</summary>
    const int MaxProbes = 256;

    readonly Dictionary<Node, Aval?> av;
    public readonly List<ParameterExpression> Vars = new();
    public readonly List<Expression> Stmts = new();
    readonly Dictionary<Node, Expression> obj = new(RefEq<Node>.Instance);
    readonly Dictionary<Node, Expression[]> elems = new(RefEq<Node>.Instance);
    readonly Dictionary<(Node, Type), Expression[]> converted = new();
    /// <summary>How each node was lowered (for <c>Ad.Show</c>).</summary>
    public readonly Dictionary<Node, string> How = new(RefEq<Node>.Instance);

    public Codegen(Dictionary<Node, Aval?> avals) => av = avals;

    /// <summary>Per input tensor, the local that the shape guard fills with its elements (its own array, of its dtype's element type).</summary>
    public Dictionary<Node, ParameterExpression> OwnData { get; init; } = new(RefEq<Node>.Instance);

    public Aval? AvalOf(Node n) => av.TryGetValue(n, out var a) ? a : null;

    static Type Elem(Aval a) => DTypes.ClrType(a.DType);

    ParameterExpression Local(Type t, string? name = null)
    {
        var v = Expression.Variable(t, name ?? "t" + (Vars.Count + 1));
        Vars.Add(v);
        return v;
    }

    Expression Assign(Expression e, Type? t = null)
    {
        if (e is ConstantExpression or ParameterExpression) return e;
        var v = Local(t ?? e.Type);
        Stmts.Add(Expression.Assign(v, Primitive.Conv(e, v.Type)));
        return v;
    }

    /// <summary>Emits the graph's nodes; inputs are given as expressions (leaf locals).</summary>
    public void EmitGraph(Graph g, IReadOnlyList<Expression> inputs)
    {
        for (int i = 0; i < g.Inputs.Length; i++) obj[g.Inputs[i]] = inputs[i];
        pooled = Pooling.Plan(g, av);
        if (TryEmitBatchLoop(g)) return;
        var chains = Fusion.Plan(g, av);
        var live = ValueLive(g);
        if (chains.Count == 0)
        {
            foreach (var n in g.Nodes)
                if (!n.IsInput && live.Contains(n)) EmitNode(n);
            return;
        }
        EmitWithChains(g, chains, live);
    }

    /// <summary>
    /// The nodes whose values the outputs need. A shape-only node (the gradient seed, <c>Zeros</c>, <c>Ones</c>) and a
    /// shape known now (the cases <see cref="EmitNode"/> lowers without reading an operand) read their operands' shapes,
    /// not their values, so a gradient does not compute the loss it never returns (in the XOR gradient: two logarithms
    /// and four other operations per call). Nothing else is emitted: a primitive has no effect besides its value.
    /// </summary>
    HashSet<Node> ValueLive(Graph g)
    {
        var live = new HashSet<Node>(RefEq<Node>.Instance);
        AddValueLive(g.Outputs, live, n => n.Kind == Kind.Aval && AvalOf(n) is not null
            || n.Op.Cpu is { ShapeOnly: true } && n.Batch == 0 && n.Kind == Kind.Tensor && AvalOf(n) is { } a && Lowerable(n, a));
        return live;
    }

    /// <summary>
    /// Adds to <paramref name="live"/> the nodes whose values <paramref name="roots"/> need: every operand of a live
    /// node, except the operands of one that <paramref name="readsOnlyShapes"/> (those are read for their shapes only).
    /// </summary>
    internal static void AddValueLive(IEnumerable<Node> roots, HashSet<Node> live, Func<Node, bool> readsOnlyShapes)
    {
        var stack = new Stack<Node>(roots);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!live.Add(n) || readsOnlyShapes(n)) continue;
            foreach (var x in n.Args) stack.Push(x);
        }
    }

    /// <summary>The node's value as an object of its CLR type (materialising unrolled elements once).</summary>
    public Expression Obj(Node n)
    {
        if (obj.TryGetValue(n, out var e)) return e;
        if (n.IsConst)
            return obj[n] = Expression.Constant(n.Value, n.Kind == Kind.Static ? n.Value!.GetType() : n.Kind.ClrType());
        var a = av[n]!;
        if (Lane is not null) throw new LaneBail();
        if (unrounded.TryGetValue(n, out var f)) return obj[n] = RoundLate(n, f, a);
        var t = Elem(a);
        // the elements are written straight into the result's array, which the tensor adopts (a bool value is carried as
        // 0/1 in a float type and stored as non-zero)
        var data = Expression.NewArrayInit(t, elems[n].Select(x => t == typeof(bool) && x.Type != typeof(bool)
            ? Expression.NotEqual(x, Expression.Constant(Activator.CreateInstance(x.Type), x.Type)) : Primitive.Conv(x, t)));
        return obj[n] = Assign(MakeTensor(data, a), typeof(Tensor));
    }

    /// <summary>
    /// x's elements as a <paramref name="t"/>[]: a call of <see cref="JitRt.Data{T}"/> (the tensor's own array after a type
    /// check). One call node, not the test inline: that made the runtime's JIT of a specialisation slower.
    /// </summary>
    static Expression DataOf(Expression x, Type t) => Expression.Call(typeof(JitRt).GetMethod(nameof(JitRt.Data))!.MakeGenericMethod(t), x);

    /// <summary>Node <paramref name="n"/>'s elements as a <paramref name="t"/>[]: an input's local filled by the guard when its type is <paramref name="t"/>, otherwise <see cref="DataOf(Expression, Type)"/>.</summary>
    Expression DataOf(Node n, Type t) => OwnData.TryGetValue(n, out var own) && own.Type == t.MakeArrayType() ? own : DataOf(Obj(n), t);

    static readonly ConstructorInfo TensorCtor =
        typeof(Tensor).GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic, [typeof(Array), typeof(Aval)])!;

    /// <summary>
    /// <c>new Tensor(array, aval)</c>: one object around the result's array, its aval the interned constant (no shape
    /// array, no storage wrapper, no lookup per call). The array's type and length must be the aval's.
    /// </summary>
    internal static Expression MakeTensor(Expression array, Aval a) =>
        Expression.New(TensorCtor, Expression.Convert(array, typeof(Array)), Expression.Constant(a.Canonical));

    /// <summary>The node's elements as scalar expressions of element type <paramref name="t"/>.</summary>
    public Expression[] Elems(Node n, Type t)
    {
        if (converted.TryGetValue((n, t), out var c)) return c;
        Expression[] r;
        if (n.Kind is Kind.Double or Kind.Float)
        {
            // a C# scalar combined with a tensor is a weak scalar: it takes the tensor's element type
            r = [Lane is not null ? Splat(Primitive.Conv(Obj(n), LaneElem), t) : Primitive.Conv(Obj(n), t)];
        }
        else if (elems.TryGetValue(n, out var own))
        {
            if (Lane is not null && own.Length > 0 && own[0].Type != t) throw new LaneBail();
            r = own.Length == 0 || own[0].Type == t ? own : own.Select(x => x is ConstantExpression k ? ConvConst(k, t) : Assign(Expression.Convert(x, t))).ToArray();
        }
        else if (n.IsConst && n.Value is Tensor ct0 && ct0.DType is not (DType.Float32 or DType.Float64))
        {
            if (Lane is not null) throw new LaneBail();
            r = ct0.ToDoubleArray().Select(v => ConvConst(Expression.Constant(v), t)).ToArray();
        }
        else if (n.IsConst && n.Value is Tensor ct)
        {
            r = Lane is not null ? JitRt.Data<double>(ct).Select(v => K(v, t)).ToArray()
                : t == typeof(double)
                ? JitRt.Data<double>(ct).Select(v => (Expression)Expression.Constant(v)).ToArray()
                : JitRt.Data<float>(ct).Select(v => (Expression)Expression.Constant(v)).ToArray();
        }
        else if (Lane is null && unrounded.TryGetValue(n, out var uf))
        {
            // a half value that generated code keeps in float32: its unrounded elements
            r = new Expression[av[n]!.Size];
            for (int i = 0; i < r.Length; i++) r[i] = Primitive.Conv(Expression.ArrayIndex(uf, Expression.Constant(i)), t);
        }
        else
        {
            if (Lane is not null) throw new LaneBail();
            var own0 = Elem(av[n]!);
            if (own0 != t && own0 != typeof(float) && own0 != typeof(double))
            {
                // a bool (or other) tensor read as numbers: its own array, each element converted (bool: 0 or 1)
                var src = Assign(DataOf(Obj(n), own0), own0.MakeArrayType());
                r = new Expression[av[n]!.Size];
                for (int i = 0; i < r.Length; i++)
                {
                    Expression e = Expression.ArrayIndex(src, Expression.Constant(i));
                    r[i] = own0 == typeof(bool) ? Expression.Condition(e, ConvConst(Expression.Constant(1.0), t), ConvConst(Expression.Constant(0.0), t)) : Expression.Convert(e, t);
                }
                return converted[(n, t)] = r;
            }
            var arr = Assign(DataOf(n, t), t.MakeArrayType());
            r = new Expression[av[n]!.Size];
            // element reads stay expressions (no local each): the array is the tensor's own, never written during the
            // call, and fewer locals make the specialisation compile faster
            for (int i = 0; i < r.Length; i++) r[i] = Expression.ArrayIndex(arr, Expression.Constant(i));
        }
        return converted[(n, t)] = r;
    }

    /// <summary>A constant converted to <paramref name="t"/> now (to a half type as the generated code would convert it: from the constant's own type).</summary>
    static Expression ConvConst(ConstantExpression k, Type t) =>
        t == typeof(double) ? Expression.Constant(Convert.ToDouble(k.Value))
        : t == typeof(float) ? Expression.Constant(Convert.ToSingle(k.Value))
        : Expression.Constant(ConvertHalf(k, t), t);

    static object ConvertHalf(ConstantExpression k, Type t) => (k.Value, t) switch
    {
        (float f, var h) when h == typeof(Half) => (Half)f,
        (double d, var h) when h == typeof(Half) => (Half)d,
        (float f, var h) when h == typeof(BFloat16) => (BFloat16)f,
        (double d, var h) when h == typeof(BFloat16) => (BFloat16)d,
        var (v, h) => throw new InvalidOperationException($"Internal error: constant {v} of {v?.GetType().Name} as {h.Name}"),
    };

    void SetElems(Node n, Expression[] e) { elems[n] = e; converted[(n, e.Length > 0 ? e[0].Type : Elem(av[n]!))] = e; }

    /// <summary>The CPU columns of an elementwise primitive: its element code (<see cref="Primitive.Scalar"/>) is all it needs.</summary>
    static readonly CpuLowering ElementwiseLowering = new();

    void EmitNode(Node n)
    {
        if (n.IsConst) return;
        var a = AvalOf(n);
        var low = n.Op.Cpu ?? (n.Op.Scalar is not null ? ElementwiseLowering : null);
        if (n.Kind == Kind.Aval && a is not null) { obj[n] = Expression.Constant(a); How[n] = "shape"; return; }
        if (n.Batch == 0 && n.Kind == Kind.Tensor && a is not null && low is not null && Lowerable(n, a) && TryLower(n, a, low)) return;
        if (Lane is not null && !(n.Batch == 0 && n.Kind == Kind.Tensor && a is not null && low is not null && Lowerable(n, a) && TryLower(n, a, low))) throw new LaneBail();
        if (a is not null && TryHalfInFloat32(n, a, low)) return;
        if (n.Batch == 0 && low is { ReadsScalar: true } && elems.ContainsKey(n.Args[0]) && av[n.Args[0]] is { Weak: false, Size: 1 })
        {
            obj[n] = Assign(Expression.Convert(Elems(n.Args[0], ComputeType(n.Args[0], av[n.Args[0]]!))[0], n.Kind.ClrType()));
            How[n] = "scalar";
            return;
        }
        // the eager method: real and correct for any shapes
        var args = n.Args.Select(Obj).ToArray();
        var e = n.Batch > 0 ? Vmapped.Emit(n, args) : n.Op.Emit(args, SmallArrays.KindsOf(n.Args), n.Params, n.Subgraphs);
        obj[n] = Assign(e, n.Kind.ClrType());
        How[n] = "eager";
    }

    /// <summary>
    /// A reduction or a product with a float16 or bfloat16 result, too large to unroll: its eager kernel (the GEMM for a
    /// large 2-D product) runs on float32 operands: a value that generated code keeps unrounded is passed as it is,
    /// others are widened. Eager code does the same (it widens, computes in float32 and rounds once), but on operands
    /// already rounded. The float32 result is kept unrounded for the code that reads it and rounded where a half
    /// tensor is needed (<see cref="Obj"/>), like a fused loop's result.
    /// </summary>
    bool TryHalfInFloat32(Node n, Aval a, CpuLowering? low)
    {
        if (Lane is not null || n.Batch != 0 || n.Kind != Kind.Tensor || !DTypes.IsHalf(a.DType) || n.Subgraphs.Length > 0
            || n.Op.Family is not (PrimFamily.Reduction or PrimFamily.Contraction)) return false;
        foreach (var x in n.Args)
            if (x.Kind == Kind.Tensor && AvalOf(x) is not { DType: DType.Float32 or DType.Float16 or DType.BFloat16 }) return false;
        var args = n.Args.Select(x => x.Kind == Kind.Tensor && DTypes.IsHalf(AvalOf(x)!.DType) ? Float32Of(x, AvalOf(x)!) : Obj(x)).ToArray();
        Expression f;
        if (low?.Product is { } pr && Gemm.Fits(n, a, av, pr.TA, pr.TB))
        {
            f = Assign(Scratch(typeof(float), a.Size), typeof(float[]));
            var m = typeof(Gemm).GetMethod(nameof(Gemm.ProductInto), BindingFlags.Static | BindingFlags.Public)!.MakeGenericMethod(typeof(float));
            Stmts.Add(Expression.Call(m, args[0], args[1], Expression.Constant(pr.TA), Expression.Constant(pr.TB), Expression.Constant(a.Dims), f));
            How[n] = "gemm in float32 (rounded where a half tensor is needed)";
        }
        else
        {
            var r = Assign(n.Op.Emit(args, n.Args.Select(x => x.Kind).ToArray(), n.Params, n.Subgraphs), typeof(Tensor));
            // (a float32 result, or a converted copy when the kernel gave the half dtype itself)
            f = Assign(DataOf(r, typeof(float)), typeof(float[]));
            How[n] = "eager in float32 (rounded where a half tensor is needed)";
        }
        unrounded[n] = f;
        return true;
    }

    /// <summary>A half node's value as a float32 tensor: its unrounded values when generated code kept them, else widened.</summary>
    Expression Float32Of(Node x, Aval xa)
    {
        var a32 = Aval.Intern(xa.Dims, DType.Float32, xa.Weak);
        if (unrounded.TryGetValue(x, out var f)) return Assign(MakeTensor(f, a32), typeof(Tensor));
        if (elems.TryGetValue(x, out var e) && e.Length > 0 && e[0].Type == typeof(float))
            return Assign(MakeTensor(Expression.NewArrayInit(typeof(float), e), a32), typeof(Tensor));
        var h = Elem(xa);
        var src = Assign(DataOf(Obj(x), h), h.MakeArrayType());
        var dst = Assign(Expression.Call(typeof(GC).GetMethod(nameof(GC.AllocateUninitializedArray))!.MakeGenericMethod(typeof(float)), Expression.Constant(xa.Size), Expression.Constant(false)), typeof(float[]));
        Stmts.Add(Expression.Call(JitRtMethod(nameof(JitRt.Widen), src.Type, dst.Type), src, dst, Expression.Constant(0), Expression.Constant(xa.Size)));
        return Assign(MakeTensor(dst, a32), typeof(Tensor));
    }

    /// <summary>
    /// Whether the node's values are ones the generated code computes: float32 and float64; float16 and bfloat16,
    /// computed in float32 (see <see cref="ComputeType"/>); and bool results of comparisons and selections of those
    /// (carried as 0/1 in the float type). Integer and other bool values run their eager kernels, and so do halves in
    /// the batch loop's lanes.
    /// </summary>
    bool Lowerable(Node n, Aval a)
    {
        if (!Computed(a.DType)) return false;
        if (a.DType == DType.Bool && (Lane is not null || n.Op.Scalar is null || n.Op.Gives(DType.Float32) != DType.Bool)) return false;
        foreach (var x in n.Args)
            if (x.Kind == Kind.Tensor && AvalOf(x) is { } xa && !Computed(xa.DType)) return false;
        return true;
    }

    bool Computed(DType d) => d is DType.Float32 or DType.Float64 or DType.Bool || Lane is null && DTypes.IsHalf(d);

    /// <summary>
    /// The type a node's elements are computed in: its dtype's; float32 for float16 and bfloat16 (an unrolled or fused
    /// half value stays a float32 until it is stored, where it is rounded once: see <see cref="Obj"/> and
    /// <see cref="EmitChain"/>); for a bool comparison its operands' float type.
    /// </summary>
    Type ComputeType(Node n, Aval a) =>
        DTypes.IsHalf(a.DType) ? typeof(float)
        : a.DType != DType.Bool ? Elem(a) : Fusion.ComputeDType(n, av) == DType.Float64 ? typeof(double) : typeof(float);

    bool TryLower(Node n, Aval a, CpuLowering low)
    {
        if (low.IdentityWhenSameAval && n.Args[0].Kind == Kind.Tensor && a.Equals(AvalOf(n.Args[0])))
        {
            if (elems.TryGetValue(n.Args[0], out var e)) SetElems(n, e);
            else obj[n] = Obj(n.Args[0]);
            How[n] = "alias";
            return true;
        }
        if (low.ShapeOnly)
        {
            var value = low.ValueOf is { } valueOf && OperandAvals(n) is { } avals ? valueOf(n.Params, avals)
                : (Tensor)ProbeCache.ShapeOnlyValue(n, AvalOf, () => Evaluate(n, n.Args.Select(x => Dummy(x)).ToArray()))!;
            if (value.Size <= Tiny) SetElems(n, ConstantElements(value, Lane is not null ? null : Elem(a)));
            else obj[n] = Expression.Constant(value);
            How[n] = "constant";
            return true;
        }
        if (n.Op.Scalar is { } scalar && a.Size <= Tiny && n.Args.All(x => x.Kind is Kind.Double or Kind.Float || x.Kind == Kind.Tensor && AvalOf(x) is not null))
        {
            var t = Lane ?? ComputeType(n, a);
            var ops = n.Args.Select(x => Elems(x, t)).ToArray();
            var dims = n.Args.Select(x => x.Kind == Kind.Tensor ? AvalOf(x)!.Dims : []).ToArray();
            var r = new Expression[a.Size];
            var idx = new int[a.Rank];
            for (int i = 0; i < r.Length; i++)
            {
                Unravel(i, a.Dims, idx);
                var xs = ops.Select((o, k) => o[BroadcastIndex(idx, dims[k])]).ToArray();
                r[i] = Assign(Lane is not null ? LaneOp(n.Op, xs) : scalar(xs, t), t);
            }
            SetElems(n, r);
            How[n] = "unrolled";
            return true;
        }
        if ((low.Linear is not null || low.Bilinear) && a.Size <= Tiny && TryProbe(n, a, low)) return true;
        // (a half product runs the float32 GEMM on float32 operands: TryHalfInFloat32)
        if (low.Product is { } pr && !DTypes.IsHalf(a.DType) && Gemm.Fits(n, a, av, pr.TA, pr.TB))
        {
            var t = Elem(a);
            var m = typeof(Gemm).GetMethod(nameof(Gemm.ProductInto), BindingFlags.Static | BindingFlags.Public)!.MakeGenericMethod(t);
            obj[n] = Assign(Expression.Call(m, Obj(n.Args[0]), Obj(n.Args[1]), Expression.Constant(pr.TA), Expression.Constant(pr.TB), Expression.Constant(a.Dims), Buffer(n, t, a.Size)), typeof(Tensor));
            How[n] = "gemm";
            return true;
        }
        if (low.Into is { } into && Lane is null && n.Batch == 0 && low.IntoWhen?.Invoke(n.Params, a.DType) == true
            && n.Args.All(x => x.Kind is Kind.Tensor or Kind.Aval && AvalOf(x) is not null || x.IsConst))
        {
            var t = Elem(a);
            // an aval operand (the shape of a transpose's result) is known now: passed as a constant
            var operands = Expression.NewArrayInit(typeof(object), n.Args.Select<Node, Expression>(x =>
                x.Kind == Kind.Aval && !x.IsConst ? Expression.Constant(AvalOf(x), typeof(object)) : Expression.Convert(Obj(x), typeof(object))));
            obj[n] = Assign(Expression.Invoke(Expression.Constant(into), operands, Expression.Constant(n.Params), Buffer(n, t, a.Size)), typeof(Tensor));
            How[n] = pooled.Contains(n) ? "kernel into the arena" : "kernel";
            return true;
        }
        return false;
    }

    /// <summary>
    /// A linear or bilinear node of tiny size: its coefficients are found at specialisation by running the eager
    /// method on one-hot operands, then each output element is written as a sum of products of operand elements.
    /// </summary>
    bool TryProbe(Node n, Aval a, CpuLowering low)
    {
        if (low.LinearWhen is { } linearWhen && !linearWhen(n.Params)) return false;
        var lin = low.Bilinear ? [0, 1] : low.Linear!.Length == 0 ? Enumerable.Range(0, n.Args.Length).ToArray() : low.Linear;
        // every other operand must be known now
        for (int i = 0; i < n.Args.Length; i++)
        {
            // (a constant linear operand would make the node affine, not linear: leave it to the eager kernel)
            if (lin.Contains(i)) { if (n.Args[i].Kind != Kind.Tensor || n.Args[i].IsConst || AvalOf(n.Args[i]) is null || AvalOf(n.Args[i])!.Size > 4 * Tiny) return false; continue; }
            if (!(n.Args[i].IsConst || n.Args[i].Kind == Kind.Aval && AvalOf(n.Args[i]) is not null)) return false;
        }
        long probes = low.Bilinear ? (long)AvalOf(n.Args[0])!.Size * AvalOf(n.Args[1])!.Size : lin.Sum(i => (long)AvalOf(n.Args[i])!.Size);
        if (probes > MaxProbes) return false;
        var t = Lane ?? ComputeType(n, a);
        var ops = new Expression[lin.Length][];
        for (int k = 0; k < lin.Length; k++) ops[k] = Elems(n.Args[lin[k]], t);
        var terms = ProbeCache.Coefficients(n, AvalOf, () =>
            (n.Batch == 0 && n.Args.Length == 2 ? ProbeCache.ContractionTerms(n.Op, AvalOf(n.Args[0])!, AvalOf(n.Args[1])!) : null) ?? Probe(n, a, low, lin));
        var r = new Expression[a.Size];
        for (int o = 0; o < r.Length; o++)
        {
            Expression? sum = null;
            foreach (var (cf, k, i, j) in terms[o])
            {
                Expression term = j < 0 ? ops[k][i] : Expression.Multiply(ops[0][i], ops[1][j]);
                if (cf != 1) term = Expression.Multiply(term, K(cf, t));
                sum = sum is null ? term : Expression.Add(sum, term);
            }
            r[o] = sum is null ? K(0, t) : Assign(sum, t);
        }
        SetElems(n, r);
        How[n] = "unrolled";
        return true;
    }

    /// <summary>The avals of <paramref name="n"/>'s operands, or <c>null</c> when one is not known.</summary>
    Aval[]? OperandAvals(Node n)
    {
        var r = new Aval[n.Args.Length];
        for (int i = 0; i < r.Length; i++) if ((r[i] = AvalOf(n.Args[i])!) is null) return null;
        return r;
    }

    /// <summary>The elements of a small constant as constants: of type <paramref name="elem"/> (double or float), or
    /// broadcast into the vector lanes when it is <c>null</c>. Plain loops: LINQ from <c>float</c> is generic code that
    /// each fresh process would JIT-compile.</summary>
    Expression[] ConstantElements(Tensor value, Type? elem)
    {
        var r = new Expression[value.Size];
        if (elem is null) { var d = JitRt.Data<double>(value); for (int i = 0; i < r.Length; i++) r[i] = K(d[i], Lane!); }
        else if (elem == typeof(double)) { var d = JitRt.Data<double>(value); for (int i = 0; i < r.Length; i++) r[i] = Expression.Constant(d[i]); }
        else { var f = JitRt.Data<float>(value); for (int i = 0; i < r.Length; i++) r[i] = Expression.Constant(f[i]); }
        return r;
    }

    /// <summary>Runs the eager method on one-hot operands: per output element, its terms (coefficient and operand elements).</summary>
    ProbeCache.Term[][] Probe(Node n, Aval a, CpuLowering low, int[] lin)
    {
        var args = n.Args.Select(x => Dummy(x)).ToArray();
        var terms = Enumerable.Range(0, a.Size).Select(_ => new List<ProbeCache.Term>()).ToArray();
        var evaluator = Evaluator(n);
        if (low.Bilinear)
        {
            var (sa, sb) = (AvalOf(n.Args[0])!, AvalOf(n.Args[1])!);
            for (int i = 0; i < sa.Size; i++)
                for (int j = 0; j < sb.Size; j++)
                {
                    args[0] = OneHot(sa, i); args[1] = OneHot(sb, j);
                    var y = Values((Tensor)evaluator(args)!);
                    for (int o = 0; o < y.Length; o++) if (y[o] != 0) terms[o].Add(new(y[o], 0, i, j));
                }
        }
        else
        {
            for (int k = 0; k < lin.Length; k++)
            {
                var sk = AvalOf(n.Args[lin[k]])!;
                foreach (var other in lin) args[other] = Dummy(n.Args[other]);
                for (int i = 0; i < sk.Size; i++)
                {
                    args[lin[k]] = OneHot(sk, i);
                    var y = Values((Tensor)evaluator(args)!);
                    for (int o = 0; o < y.Length; o++) if (y[o] != 0) terms[o].Add(new(y[o], k, i, -1));
                }
            }
        }
        return terms.Select(l => l.ToArray()).ToArray();
    }

    /// <summary>A probe's output as doubles: a float32 one widened by a plain loop (the vectorised conversion is not worth its JIT here).</summary>
    static double[] Values(Tensor t)
    {
        if (t.DType != DType.Float32) return t.ToDoubleArray();
        var f = t.Span<float>();
        var d = new double[f.Length];
        for (int i = 0; i < f.Length; i++) d[i] = f[i];
        return d;
    }

    static Tensor OneHot(Aval a, int i)
    {
        var t = Lax.Zeros(a);
        if (a.DType == DType.Float64) { var d = new double[a.Size]; d[i] = 1; return Tensor.Adopt(d, (int[])a.Dims.Clone(), a.Weak); }
        var f = new float[a.Size]; f[i] = 1; return Tensor.Adopt(f, (int[])a.Dims.Clone(), a.Weak);
    }

    object? Dummy(Node x) => x.IsConst ? x.Value : x.Kind switch
    {
        Kind.Aval => AvalOf(x),
        Kind.Double => 0.0,
        Kind.Float => 0f,
        _ => Rt.Placeholder(AvalOf(x)!),
    };

    object? Evaluate(Node n, object?[] args) => Evaluator(n)(args);

    /// <summary>The eager code of one node over boxed operands, interpreted (it runs a few times, at specialisation only; cached).</summary>
    static Func<object?[], object?> Evaluator(Node n) => ProbeCache.Evaluator(n);

    static void Unravel(int i, int[] dims, int[] idx)
    {
        for (int k = dims.Length - 1; k >= 0; k--) { idx[k] = i % dims[k]; i /= dims[k]; }
    }

    /// <summary>The flat index into an operand of shape <paramref name="d"/> broadcast against the output index.</summary>
    static int BroadcastIndex(int[] idx, int[] d)
    {
        int flat = 0, off = idx.Length - d.Length;
        for (int k = 0; k < d.Length; k++) flat = flat * d[k] + (d[k] == 1 ? 0 : idx[k + off]);
        return flat;
    }

}
