## Collects check results of a GDScript test and reports them to the pytest side.
## Lines: "PASS <what>", "FAIL <what>: <detail>", "RESULT {json}", and a final "DONE failures=N".
extends RefCounted

var failures := 0


func check(condition: bool, what: String, detail: String = "") -> bool:
	if condition:
		print("PASS ", what)
	else:
		failures += 1
		print("FAIL ", what, (": " + detail) if detail else "")
	return condition


func check_eq(actual: Variant, expected: Variant, what: String) -> bool:
	return check(actual == expected, what, "got %s, expected %s" % [str(actual).left(200), str(expected).left(200)])


## A value for the Python side to assert on.
func result(name: String, value: Variant) -> void:
	print("RESULT ", JSON.stringify({"name": name, "value": value}))


func finish(tree: SceneTree) -> void:
	print("DONE failures=%d" % failures)
	tree.quit(1 if failures else 0)
