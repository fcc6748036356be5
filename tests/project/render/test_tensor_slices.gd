## cPersistentUintTensor.write_at / write_pixels_at on the 20-byte "slices" tensor (the host filled
## it with 7s): slices land where asked, nothing else changes, bad input is refused with an error
## and writes nothing. Posts "done".
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var mem := cSharedMemory.new()
	var t: cPersistentUintTensor = mem.findUintTensor("slices")
	r.check(t.write_at(2, PackedByteArray([1, 2, 3])), "write_at 3 bytes at 2")
	r.check(t.write_pixels_at(5, PackedByteArray([10, 11, 12, 13, 20, 21, 22, 23]), 4, 3), "RGBA -> RGB at 5")
	r.check(t.write_pixels_at(11, PackedByteArray([30, 31, 32, 40, 41, 42]), 3, 3), "RGB -> RGB at 11")
	r.check(t.write_pixels_at(17, PackedByteArray([50, 51, 52, 53]), 4, 1), "RGBA -> first channel at 17")
	r.check(t.write_at(20, PackedByteArray()), "an empty write at the end")
	# refused: each writes nothing
	r.check(not t.write_at(-1, PackedByteArray([99])), "negative offset refused")
	r.check(not t.write_at(19, PackedByteArray([99, 99])), "past the end refused")
	r.check(not t.write_at(21, PackedByteArray()), "offset beyond the tensor refused")
	r.check(not t.write_pixels_at(0, PackedByteArray([99, 99, 99, 99, 99]), 4, 3), "not whole pixels refused")
	r.check(not t.write_pixels_at(0, PackedByteArray([99, 99, 99]), 3, 4), "more channels than the source refused")
	r.check(not t.write_pixels_at(0, PackedByteArray([99, 99, 99, 99, 99]), 5, 3), "source of 5 channels refused")
	r.check(not t.write_pixels_at(0, PackedByteArray([99]), 1, 0), "0 channels refused")
	r.check(not t.write_pixels_at(18, PackedByteArray([99, 99, 99, 99]), 4, 3), "pixels past the end refused")
	r.check(not cPersistentUintTensor.new().write_at(0, PackedByteArray([99])), "unattached tensor refused")
	r.check(mem.findSemaphore("done").post(), "post done")
	r.finish(self)
