## Smoke scene: prints the engine version and the line of our GDExtension, then quits.
## Run by `godot-aigym smoke`, which looks for the AIGYM_* lines; exit code 1 when the
## extension class is missing (library not built, not imported, or failed to load).
extends Node


func _ready() -> void:
	print("AIGYM_ENGINE ", Engine.get_version_info()["string"])
	var code := 0
	if ClassDB.class_exists(&"cAigymExtension"):
		# Through ClassDB, not `cAigymExtension.new()`: this script must parse without the extension.
		var info: RefCounted = ClassDB.instantiate(&"cAigymExtension")
		print("AIGYM_EXTENSION ", info.call(&"describe"))
	else:
		print("AIGYM_EXTENSION_MISSING class cAigymExtension is not registered")
		code = 1
	get_tree().quit(code)
