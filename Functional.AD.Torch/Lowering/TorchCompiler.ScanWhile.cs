using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

internal sealed partial class TorchCompiler
{
    /// <summary>
    /// <c>Np.Scan</c> and <c>Np.While</c> lowered as loops on the host around their lowered bodies (not unrolled). A
    /// Scan's step count is the first dimension of xs, known at compile time; its ys are stacked on the device. A
    /// While reads its condition back to the host once per trip.
    /// </summary>
    (Expression, Aval?)? EmitScanWhile(Node n, Expression[] args, Aval?[] argAvals)
    {
        if (n.Op == Prims.ScanTape || n.Op == Prims.WhileTape || n.Op == Prims.LoopLin || n.Op == Prims.LoopLinT)
            throw new NotSupportedException("The Torch backend does not lower the derivative of a loop (Np.Scan, Np.While) yet: differentiate on the CPU backend (Ad.Jit) instead.");
        if (n.Op == Prims.Scan) return EmitScanLoop(n, args, argAvals);
        if (n.Op == Prims.While) return EmitWhileLoop(n, args, argAvals);
        return null;
    }

    static TT RowOf(TT xs, int i) => xs.select(0, i);

    static TT StackRows(TT[] ys) => torch.stack(ys, 0);

    static bool TruthOf(TT c)
    {
        Interlocked.Increment(ref TorchStorage.DeviceToHost);
        return c.to_type(torch.ScalarType.Float64).item<double>() != 0;
    }

    (Expression, Aval?) EmitScanLoop(Node n, Expression[] args, Aval?[] argAvals)
    {
        int which = n.Params.Get<int>(0);
        var carryAval = argAvals[0] ?? throw new NotSupportedException("Internal error: a Scan carry of unknown shape.");
        var xsAval = argAvals[1] ?? throw new NotSupportedException("Internal error: a Scan sequence of unknown shape.");
        var outAval = ScanWhile.InferAval(n, argAvals);   // the shape checks (carry, empty sequence, length) run here, at compile time
        int steps = xsAval.Dims[0];
        var body = n.Subgraphs[which];
        var rowAval = new Aval(xsAval.Dims.Skip(1).ToArray(), xsAval.DType, xsAval.Weak);
        var carry = Expression.Variable(args[0].Type, "carry");
        var x = Expression.Variable(typeof(TT), "x");
        var i = Expression.Variable(typeof(int), "i");
        var ys = Expression.Variable(typeof(TT[]), "ys");
        var caps = args.Skip(2).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var vars = new List<ParameterExpression>();
        var stmts = new List<Expression> { Expression.Assign(x, Expression.Call(typeof(TorchCompiler).GetMethod(nameof(RowOf), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!, Expression.Convert(args[1], typeof(TT)), i)) };
        var (o, _) = EmitGraph(body, [carry, x, .. caps], [carryAval, rowAval, .. argAvals.Skip(2)], vars, stmts);
        stmts.Add(Expression.Assign(carry, o[0].Type == carry.Type ? o[0] : Expression.Convert(o[0], carry.Type)));
        if (which == 1) stmts.Add(Expression.Assign(Expression.ArrayAccess(ys, i), Expression.Convert(o[1], typeof(TT))));
        stmts.Add(Expression.PostIncrementAssign(i));
        var brk = Expression.Label("done");
        var block = new List<Expression> { Expression.Assign(carry, args[0]), Expression.Assign(i, Expression.Constant(0)) };
        block.AddRange(caps.Select((c, j) => Expression.Assign(c, args[2 + j])));
        if (which == 1) block.Add(Expression.Assign(ys, Expression.NewArrayBounds(typeof(TT), Expression.Constant(steps))));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, Expression.Constant(steps)), Expression.Block(vars, stmts), Expression.Break(brk)), brk));
        if (which == 0) block.Add(carry);
        else if (steps > 0) block.Add(Expression.Call(typeof(TorchCompiler).GetMethod(nameof(StackRows), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!, ys));
        else
        {
            var a = outAval!;
            var device = backend.Device;
            Func<TT> empty = () => torch.zeros(Lowerings.Longs(a.Dims), Lowerings.ScalarOf(a.DType), device);
            block.Add(Expression.Invoke(Expression.Constant(empty)));
        }
        var type = which == 0 ? carry.Type : typeof(TT);
        return (Expression.Block(type, [carry, x, i, ys, .. caps], block), outAval ?? carryAval);
    }

    (Expression, Aval?) EmitWhileLoop(Node n, Expression[] args, Aval?[] argAvals)
    {
        var carryAval = argAvals[0] ?? throw new NotSupportedException("Internal error: a While carry of unknown shape.");
        ScanWhile.InferAval(n, argAvals);   // the condition must be a scalar, the carry keep its shape: checked at compile time
        var carry = Expression.Variable(args[0].Type, "carry");
        var caps = args.Skip(1).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var condVars = new List<ParameterExpression>();
        var condStmts = new List<Expression>();
        var (co, _) = EmitGraph(n.Subgraphs[0], [carry, .. caps], [carryAval, .. argAvals.Skip(1)], condVars, condStmts);
        Expression test = co[0].Type == typeof(bool) ? co[0]
            : co[0].Type == typeof(TT) ? Expression.Call(typeof(TorchCompiler).GetMethod(nameof(TruthOf), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!, co[0])
            : Expression.NotEqual(Expression.Convert(co[0], typeof(double)), Expression.Constant(0.0));
        var bodyVars = new List<ParameterExpression>();
        var bodyStmts = new List<Expression>();
        var (bo, _) = EmitGraph(n.Subgraphs[1], [carry, .. caps], [carryAval, .. argAvals.Skip(1)], bodyVars, bodyStmts);
        bodyStmts.Add(Expression.Assign(carry, bo[0].Type == carry.Type ? bo[0] : Expression.Convert(bo[0], carry.Type)));
        var brk = Expression.Label("done");
        var block = new List<Expression> { Expression.Assign(carry, args[0]) };
        block.AddRange(caps.Select((c, j) => Expression.Assign(c, args[1 + j])));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.Block(condVars, [.. condStmts, test]), Expression.Block(bodyVars, bodyStmts), Expression.Break(brk)), brk));
        block.Add(carry);
        return (Expression.Block(carry.Type, [carry, .. caps], block), carryAval);
    }
}
