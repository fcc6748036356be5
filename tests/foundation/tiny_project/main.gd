## The tiny project's only script: a class_name makes the import write its class cache.
class_name TinyMain
extends Node


func _ready() -> void:
	print("TINY_READY")
