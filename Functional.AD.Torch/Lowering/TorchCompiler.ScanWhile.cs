using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

internal sealed partial class TorchCompiler
{
    // Scan and While (the one loop family of the core, see ScanRules and WhileRules there; every derivative loop is one
    // of them) are lowered as loops on the host around their lowered bodies, not unrolled; their results are an
    // object[] read by Proj. A Scan's step count is the first dimension of its sequences, known at compile time, except
    // for a sequence stacked by a While (a dynamic-length stack): its row aval is known at compile time, its length read
    // at run time. A While reads its condition back to the host once per trip.

    static readonly System.Reflection.BindingFlags Private = System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic;

    static TT RowOf(TT xs, int i) => xs.select(0, i);

    static int RowsOf(TT xs) => (int)xs.size(0);

    static Expression Row(Expression xs, Expression i) => Expression.Call(typeof(TorchCompiler).GetMethod(nameof(RowOf), Private)!, Expression.Convert(xs, typeof(TT)), i);

    static Aval RowAvalOf(Aval a) => new(a.Dims.Skip(1).ToArray(), a.DType, a.Weak);

    static Expression Assign(ParameterExpression v, Expression e) => Expression.Assign(v, e.Type == v.Type ? e : Expression.Convert(e, v.Type));

    static bool TruthOf(TT c)
    {
        Interlocked.Increment(ref TorchStorage.DeviceToHost);
        return c.to_type(torch.ScalarType.Float64).item<double>() != 0;
    }

    /// <summary>The avals of the results of the multi-result nodes lowered so far (see <c>Tuples</c> in the core), for their <c>Proj</c> nodes.</summary>
    readonly Dictionary<Node, Aval?[]> tupleAvals = new(RefEq<Node>.Instance);
    /// <summary>The row avals of the results of multi-result nodes that are dynamic-length stacks (<c>null</c> for the others).</summary>
    readonly Dictionary<Node, Aval?[]> tupleRows = new(RefEq<Node>.Instance);
    /// <summary>The row aval of a value that is a dynamic-length stack (a While's stacked ys, and what a Scan stacks over them).</summary>
    readonly Dictionary<Node, Aval> stackRows = new(RefEq<Node>.Instance);

    internal (Expression, Aval?) EmitProj(Node n, Expression[] args)
    {
        var p = n.Params.Get<ProjParams>(0);
        var type = p.Kind == Kind.Tensor ? typeof(TT) : p.Kind.ClrType();
        var e = Expression.Convert(Expression.ArrayIndex(Expression.Convert(args[0], typeof(object[])), Expression.Constant(p.Index)), type);
        var aval = tupleAvals.TryGetValue(n.Args[0], out var avals) ? avals[p.Index] : null;
        if (aval is null && tupleRows.TryGetValue(n.Args[0], out var rows) && rows[p.Index] is { } row) stackRows[n] = row;
        return (e, aval);
    }

    internal (Expression, Aval?) EmitPack(Node n, Expression[] args, Aval?[] argAvals)
    {
        tupleAvals[n] = argAvals;
        tupleRows[n] = n.Args.Select(a => stackRows.TryGetValue(a, out var r) ? r : null).ToArray();
        return (Expression.NewArrayInit(typeof(object), args.Select(a => Expression.Convert(a, typeof(object)))), null);
    }

    /// <summary>Stacks the rows of one y on the device (tensors, or C# scalars); with none, zeros of shape [0, ...row].</summary>
    static TT StackOrEmpty(object[] rows, Aval row, torch.Device device)
    {
        if (rows.Length == 0) return torch.zeros(Lowerings.Longs([0, .. row.Dims]), Lowerings.ScalarOf(row.DType), device);
        return rows[0] switch
        {
            TT => torch.stack(rows.Cast<TT>().ToArray(), 0),
            float => torch.tensor(rows.Select(y => (float)y).ToArray()).to(device),
            _ => torch.tensor(rows.Select(y => (double)y).ToArray()).to(device),
        };
    }

    Expression Stack(Expression rows, Aval? row, string src)
    {
        var r = row ?? throw new NotSupportedException($"The Torch backend needs the shape of the ys of `{src}` when it compiles.");
        var device = backend.Device;
        Func<object[], TT> stack = ys => StackOrEmpty(ys, r, device);
        return Expression.Invoke(Expression.Constant(stack), rows);
    }

    /// <summary>
    /// A Scan (see <c>ScanRules</c> in the core): a loop on the host over the lowered body, forwards or backwards; each
    /// y's rows are stacked on the device.
    /// </summary>
    internal (Expression, Aval?) EmitScanLoop(Node n, Expression[] args, Aval?[] argAvals)
    {
        var p = n.Params.Get<ScanParams>(0);
        var body = n.Subgraphs[0];
        int nc = p.Carries, nx = p.Xs, ny = body.Outputs.Length - nc;
        var outAvals = ScanRules.Avals(n, argAvals);   // the shape checks (carries, empty sequence, length) run here, at compile time
        tupleAvals[n] = outAvals;
        var rowAvals = Enumerable.Range(0, nx).Select(j => argAvals[nc + j] is { } a ? RowAvalOf(a) : stackRows.GetValueOrDefault(n.Args[nc + j])).ToArray();
        for (int j = 0; j < nx; j++)
            if (rowAvals[j] is null) throw new NotSupportedException($"The Torch backend needs the shape of the sequences of `{p.Source}` when it compiles.");
        var carries = Enumerable.Range(0, nc).Select(j => Expression.Variable(args[j].Type, "carry" + j)).ToArray();
        var nexts = Enumerable.Range(0, nc).Select(j => Expression.Variable(args[j].Type, "next" + j)).ToArray();
        var xs = Enumerable.Range(0, nx).Select(j => Expression.Variable(typeof(TT), "xs" + j)).ToArray();
        var caps = args.Skip(nc + nx).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var ys = Enumerable.Range(0, ny).Select(j => Expression.Variable(typeof(object[]), "ys" + j)).ToArray();
        var i = Expression.Variable(typeof(int), "i");
        var steps = Expression.Variable(typeof(int), "steps");
        // the step count: known at compile time, or the length of a dynamic-length stack read at run time
        int known = p.Length >= 0 ? p.Length : Enumerable.Range(0, nx).Where(j => argAvals[nc + j] is not null).Select(j => argAvals[nc + j]!.Dims[0]).DefaultIfEmpty(-1).First();
        if (known < 0 && nx == 0) throw new NotSupportedException($"The Torch backend needs the number of steps of `{p.Source}` when it compiles.");
        var lowered = EmitBody(body, [.. carries, .. xs.Select(x => Row(x, i)), .. caps], [.. argAvals.Take(nc), .. rowAvals, .. argAvals.Skip(nc + nx)]);
        var tail = new List<Expression>();
        for (int j = 0; j < nc; j++) tail.Add(Assign(nexts[j], lowered.Outs[j]));
        for (int j = 0; j < ny; j++) tail.Add(Expression.Assign(Expression.ArrayAccess(ys[j], i), Expression.Convert(lowered.Outs[nc + j], typeof(object))));
        for (int j = 0; j < nc; j++) tail.Add(Expression.Assign(carries[j], nexts[j]));
        var block = new List<Expression>();
        for (int j = 0; j < nc; j++) block.Add(Assign(carries[j], args[j]));
        for (int j = 0; j < nx; j++) block.Add(Assign(xs[j], args[nc + j]));
        for (int j = 0; j < caps.Length; j++) block.Add(Expression.Assign(caps[j], args[nc + nx + j]));
        block.Add(Expression.Assign(steps, known >= 0 ? Expression.Constant(known) : Expression.Call(typeof(TorchCompiler).GetMethod(nameof(RowsOf), Private)!, xs[0])));
        foreach (var y in ys) block.Add(Expression.Assign(y, Expression.NewArrayBounds(typeof(object), steps)));
        block.Add(CountedLoop(i, steps, lowered.Then([.. tail]), reverse: p.Reverse));
        var results = new List<Expression>(carries.Select(c => Expression.Convert(c, typeof(object))));
        var yRows = new Aval?[nc + ny];
        for (int j = 0; j < ny; j++)
        {
            var row = lowered.Avals[nc + j] ?? (body.Outputs[nc + j].Kind == Kind.Float ? Aval.ScalarFloat : body.Outputs[nc + j].Kind == Kind.Double ? Aval.ScalarDouble : null);
            if (outAvals[nc + j] is null) yRows[nc + j] = row;
            results.Add(Expression.Convert(Stack(ys[j], row, p.Source), typeof(object)));
        }
        tupleRows[n] = yRows;
        block.Add(Expression.NewArrayInit(typeof(object), results));
        return (Expression.Block(typeof(object[]), [.. carries, .. nexts, .. xs, .. caps, .. ys, i, steps], block), null);
    }

    /// <summary>A While (see <c>WhileRules</c> in the core): a loop on the host over the lowered condition and body; its ys stacked on the device.</summary>
    internal (Expression, Aval?) EmitWhileLoop(Node n, Expression[] args, Aval?[] argAvals)
    {
        var p = n.Params.Get<WhileParams>(0);
        int nc = p.Carries;
        var body = n.Subgraphs[1];
        int ny = body.Outputs.Length - nc;
        tupleAvals[n] = WhileRules.Avals(n, argAvals);   // the condition must be a scalar, the carries keep their shapes: checked at compile time
        var rows = WhileRules.RowAvals(n, argAvals);
        tupleRows[n] = [.. new Aval?[nc], .. rows];
        var carries = Enumerable.Range(0, nc).Select(j => Expression.Variable(args[j].Type, "carry" + j)).ToArray();
        var nexts = Enumerable.Range(0, nc).Select(j => Expression.Variable(args[j].Type, "next" + j)).ToArray();
        var caps = args.Skip(nc).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var ys = Enumerable.Range(0, ny).Select(j => Expression.Variable(typeof(List<object>), "ys" + j)).ToArray();
        var ins = (Expression[])[.. carries, .. caps];
        var condBody = EmitBody(n.Subgraphs[0], ins, argAvals);
        var co = condBody.Outs[0];
        Expression test = co.Type == typeof(bool) ? co
            : co.Type == typeof(TT) ? Expression.Call(typeof(TorchCompiler).GetMethod(nameof(TruthOf), Private)!, co)
            : Expression.NotEqual(Expression.Convert(co, typeof(double)), Expression.Constant(0.0));
        var lowered = EmitBody(body, ins, argAvals);
        var tail = new List<Expression>();
        for (int j = 0; j < nc; j++) tail.Add(Assign(nexts[j], lowered.Outs[j]));
        for (int j = 0; j < ny; j++) tail.Add(Expression.Call(ys[j], typeof(List<object>).GetMethod(nameof(List<object>.Add))!, Expression.Convert(lowered.Outs[nc + j], typeof(object))));
        for (int j = 0; j < nc; j++) tail.Add(Expression.Assign(carries[j], nexts[j]));
        var brk = Expression.Label("done");
        var block = new List<Expression>();
        for (int j = 0; j < nc; j++) block.Add(Assign(carries[j], args[j]));
        for (int j = 0; j < caps.Length; j++) block.Add(Expression.Assign(caps[j], args[nc + j]));
        foreach (var y in ys) block.Add(Expression.Assign(y, Expression.New(typeof(List<object>))));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.Block(typeof(bool), condBody.Vars, [.. condBody.Stmts, test]), lowered.Then([.. tail]), Expression.Break(brk)), brk));
        var results = new List<Expression>(carries.Select(c => Expression.Convert(c, typeof(object))));
        for (int j = 0; j < ny; j++)
            results.Add(Expression.Convert(Stack(Expression.Call(ys[j], typeof(List<object>).GetMethod(nameof(List<object>.ToArray))!), rows[j], p.Source), typeof(object)));
        block.Add(Expression.NewArrayInit(typeof(object), results));
        return (Expression.Block(typeof(object[]), [.. carries, .. nexts, .. caps, .. ys], block), null);
    }
}
