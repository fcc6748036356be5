## The binding layer's exception firewall: a C++ exception never crashes the engine, and the
## caller learns the call failed wherever the engine gives it a way to.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var which: String = OS.get_cmdline_user_args()[0] if OS.get_cmdline_user_args().size() > 0 else ""
	print("CASE ", which)
	match which:
		"create_and_ptrcall":
			_create_and_ptrcall()
		"varcall":
			var probe: Object = cBindingProbe.new()  # untyped: Object.call goes through varcall
			probe.call("fail", "thrown in a varcall")
			print("SURVIVED")  # never reached: the failed call stops this function
			quit(0)


func _create_and_ptrcall() -> void:
	var r := Report.new()
	var probe := cBindingProbe.new()
	# A constructor that throws: `new()` gives null, the error is logged, nothing leaks.
	probe.arm_construction_failure()
	var broken = cBindingProbe.new()
	r.check(broken == null, "a throwing constructor gives null")
	r.result("live_after_failed_create", probe.live_instances())
	var healthy := cBindingProbe.new()
	r.check(healthy != null, "the next construction works")
	r.result("live_after_create", probe.live_instances())
	# A typed call (ptrcall) that throws: logged; the C interface has no error channel for
	# ptrcall, so the function goes on with the return value's default.
	probe.fail("thrown in a ptrcall")
	r.result("after_ptrcall_exception", probe.echo_int(5))
	healthy = null
	probe = null
	r.finish(self)
